// The backplane's metric set. Per-message counts are plain numbers bumped on the hot path and turned into Prometheus
// series at scrape time; the latency histogram is observed once per envelope (one Redis message), not per message.
import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from '../metrics/prom.js';
import { monotonic } from '../metrics/registry.js';

/** Every value of the `reason` label of relay_backplane_dropped_total, declared up front. */
export const DROP_REASONS = [
  /** Redis was unreachable when the message was to be sent. */
  'disconnected',
  /** More than cluster.redis.max_pending_bytes were awaiting Redis's acknowledgement. */
  'backpressure',
  /** Redis refused the message, the connection broke before it was acknowledged, or local delivery failed. */
  'error',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Upper bounds (seconds) of relay_backplane_latency_seconds: sub-millisecond on one host up to a second across a WAN. */
export const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;

/** Counters the backplane bumps per message; read at scrape time. */
export interface BackplaneCounters {
  published: number;
  /** Messages read from other instances' envelopes. */
  received: number;
  /** Of those, the ones at least one local subscriber got. */
  delivered: number;
  /** Envelopes that could not be read (another version, truncated); unit: envelopes, not messages. */
  malformedEnvelopes: number;
  readonly dropped: Record<DropReason, number>;
}

export interface BackplaneMetrics {
  readonly counters: BackplaneCounters;
  /** Records the latency of one envelope (seconds); negative values (clock skew between hosts) count as 0. */
  observeLatency(seconds: number): void;
}

/**
 * Registers the relay_backplane_* series on `registry`.
 * @param connected read at scrape time: true while both Redis connections are up and subscribed
 */
export function createBackplaneMetrics(registry: Registry, connected: () => boolean): BackplaneMetrics {
  const counters: BackplaneCounters = {
    published: 0,
    received: 0,
    delivered: 0,
    malformedEnvelopes: 0,
    dropped: { disconnected: 0, backpressure: 0, error: 0 },
  };
  monotonic(registry, 'relay_backplane_published_total', 'Messages this instance published to the backplane (acknowledged by Redis)', () => counters.published);
  monotonic(registry, 'relay_backplane_received_total', 'Messages from other instances read off the backplane', () => counters.received);
  monotonic(
    registry,
    'relay_backplane_delivered_total',
    'Messages from other instances that reached at least one local subscriber',
    () => counters.delivered,
  );
  monotonic(
    registry,
    'relay_backplane_malformed_envelopes_total',
    'Envelopes from the backplane that could not be read (another version, truncated); their unread messages are not counted anywhere else',
    () => counters.malformedEnvelopes,
  );
  const reported = { disconnected: 0, backpressure: 0, error: 0 };
  const dropped = new Counter({
    name: 'relay_backplane_dropped_total',
    help: 'Cross-instance messages lost, by reason (Redis unreachable, backpressure, error)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      for (const reason of DROP_REASONS) {
        const now = counters.dropped[reason];
        if (now > reported[reason]) {
          this.labels(reason).inc(now - reported[reason]);
          reported[reason] = now;
        }
      }
    },
  });
  // Every reason is exported from the first scrape on, at 0, so rate() and absent() behave.
  for (const reason of DROP_REASONS) dropped.labels(reason).inc(0);
  new Gauge({
    name: 'relay_backplane_connected',
    help: '1 while the Redis backplane is connected and subscribed, else 0',
    registers: [registry],
    collect() {
      this.set(connected() ? 1 : 0);
    },
  });
  const latency = new Histogram({
    name: 'relay_backplane_latency_seconds',
    help: 'Time from the origin instance publishing an envelope of messages to this instance delivering it (includes clock offset between hosts)',
    buckets: [...LATENCY_BUCKETS_S],
    registers: [registry],
  });
  return { counters, observeLatency: (seconds) => latency.observe(seconds > 0 ? seconds : 0) };
}
