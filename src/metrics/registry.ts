// The relay's metric set, on its own registry. Hot-path counts are plain numbers read at scrape time;
// everything else is bumped through label children bound once.
import { Counter, Gauge, Registry, collectDefaultMetrics } from './prom.js';
import { DISCONNECT_REASONS, UPGRADE_REJECT_REASONS, type DisconnectReason, type RejectReason } from '../relay/protocol.js';
import type { HubCounters, HubObserver } from '../relay/hub.js';

/** Default gauges prom-client names like counters; removed from the registry. */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export interface RelayMetrics extends HubObserver {
  readonly registry: Registry;
  /** Bumped by the hub per message; exported as relay_messages_total and relay_received_bytes_total. */
  readonly counters: HubCounters;
}

/** The series only the main thread registers: one value for the whole process. */
export interface ProcessSeries {
  /** Read at scrape time, so relay_connections_active is always the real socket count (every thread). */
  readonly activeConnections: () => number;
  /** Read at scrape time: the most connections admission allows (0: no limit). */
  readonly connectionLimit: () => number;
}

/**
 * Creates the registry with the relay's series. With `process` (the main thread), also Node's default process metrics
 * and the process-wide gauges; a worker thread's registry holds only what its own hub counts, and the main thread
 * sums the threads' registries at scrape time (workers/pool.ts).
 */
export function createMetrics(process: ProcessSeries | null): RelayMetrics {
  const registry = new Registry();
  if (process !== null) registerProcessSeries(registry, process);
  const counters: HubCounters = { messages: 0, receivedBytes: 0, deliveries: 0 };

  const connections = new Counter({
    name: 'relay_connections_total',
    help: 'WebSocket connections accepted',
    registers: [registry],
  });
  const disconnections = new Counter({
    name: 'relay_disconnections_total',
    help: 'WebSocket connections closed, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'relay_upgrades_rejected_total',
    help: 'Upgrade requests refused before a socket existed, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  monotonic(registry, 'relay_messages_total', 'Messages received from clients and relayed', () => counters.messages);
  monotonic(registry, 'relay_received_bytes_total', 'Payload bytes received from clients and relayed', () => counters.receivedBytes);
  monotonic(
    registry,
    'relay_deliveries_total',
    'Messages handed to subscribers: per relayed message, the subscribers of its topic at that moment (the sender excluded without echo)',
    () => counters.deliveries,
  );

  const byReason = Object.fromEntries(DISCONNECT_REASONS.map((r) => [r, disconnections.labels(r)])) as Record<
    DisconnectReason,
    ReturnType<typeof disconnections.labels>
  >;
  const rejectedByReason = Object.fromEntries(UPGRADE_REJECT_REASONS.map((r) => [r, rejected.labels(r)])) as Record<
    RejectReason,
    ReturnType<typeof rejected.labels>
  >;
  // Export every reason from the first scrape, at 0, so rate() and alerts work before the first event.
  for (const child of [...Object.values(byReason), ...Object.values(rejectedByReason)]) child.inc(0);

  return {
    registry,
    counters,
    connectionOpened: () => connections.inc(),
    disconnected: (reason) => byReason[reason].inc(),
    upgradeRejected: (reason) => rejectedByReason[reason].inc(),
  };
}

function registerProcessSeries(registry: Registry, { activeConnections, connectionLimit }: ProcessSeries): void {
  collectDefaultMetrics({ register: registry });
  // prom-client exports these three gauges with a `_total` suffix, which Prometheus reserves for counters
  // (`promtool check metrics` fails them); nodejs_active_handles/requests/resources carry the same counts by type.
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  new Gauge({
    name: 'relay_connections_active',
    help: 'WebSocket connections open now',
    registers: [registry],
    collect() {
      this.set(activeConnections());
    },
  });
  new Gauge({
    name: 'relay_connections_max',
    help: 'Most WebSocket connections the relay accepts: limits.max_connections, or what the open-file limit allows when that is lower or unset; 0 when unlimited',
    registers: [registry],
    collect() {
      this.set(connectionLimit());
    },
  });
}

/** A counter whose value is a plain number kept elsewhere: at scrape time it is advanced by what was added since. */
export function monotonic(registry: Registry, name: string, help: string, read: () => number): Counter {
  let reported = 0;
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > reported) {
        this.inc(now - reported);
        reported = now;
      }
    },
  });
}
