// The slow-consumer guard's series: queued bytes and budget as gauges read at scrape time, cuts by trigger, and
// messages shed at their publisher.
import type { Registry } from 'prom-client';
import { Counter, Gauge } from './prom.js';
import { CUT_TRIGGERS, type BackpressureObserver, type BackpressureState, type CutTrigger } from '../relay/backpressure.js';
import { monotonic } from './registry.js';

/**
 * Registers the series on `registry` and returns the observer the guard reports cuts to.
 * @param read the guard's state, read at scrape time
 * @param budgetBytes the effective relay.max_total_backpressure_bytes, read at scrape time (a reload may change it)
 */
export function backpressureMetrics(registry: Registry, read: () => BackpressureState, budgetBytes: () => number): BackpressureObserver {
  new Gauge({
    name: 'relay_backpressure_bytes',
    help: 'Bytes queued to clients over all open sockets at the last sweep, plus those still held by sockets ended as slow consumers',
    registers: [registry],
    collect() {
      const state = read();
      this.set(state.queuedBytes + state.lingeringBytes);
    },
  });
  new Gauge({
    name: 'relay_backpressure_budget_bytes',
    help: 'relay.max_total_backpressure_bytes in effect (derived from the memory limit when configured as 0)',
    registers: [registry],
    collect() {
      this.set(budgetBytes());
    },
  });
  const cuts = new Counter({
    name: 'relay_slow_consumer_cuts_total',
    help: 'Slow consumers the relay disconnected itself, by trigger (soft_limit and stall get a 4008 close frame; budget is dropped)',
    labelNames: ['trigger'] as const,
    registers: [registry],
  });
  monotonic(
    registry,
    'relay_shed_messages_total',
    'Messages dropped at their publisher because most of its room could not keep up with it',
    () => read().shedMessages,
  );
  monotonic(
    registry,
    'relay_shed_inbound_messages_total',
    'Messages from another thread or relay instance not published here because this thread\'s part of their room could not keep up',
    () => read().shedInbound,
  );
  const byTrigger = Object.fromEntries(CUT_TRIGGERS.map((t) => [t, cuts.labels(t)])) as Record<CutTrigger, ReturnType<typeof cuts.labels>>;
  for (const child of Object.values(byTrigger)) child.inc(0);
  return { cut: (trigger) => byTrigger[trigger].inc() };
}
