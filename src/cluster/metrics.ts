// The backplane's metric set. Per-message counts and latencies are plain numbers bumped on the hot path and turned
// into Prometheus series at scrape time (prom-client's Histogram.observe costs ~200 ns and allocates per call).
import { Counter, Gauge, type Histogram, type Registry } from 'prom-client';
import { monotonic } from '../metrics/registry.js';

/** Every value of the `reason` label of relay_backplane_dropped_total, declared up front. */
export const DROP_REASONS = [
  /** Redis was unreachable when the message was to be sent. */
  'disconnected',
  /** More than cluster.redis.max_pending_bytes were awaiting Redis's acknowledgement. */
  'backpressure',
  /** Redis refused the message, or the connection broke before it was acknowledged. */
  'error',
  /** An envelope from Redis could not be read (another version, truncated) or could not be delivered. */
  'malformed',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Upper bounds (seconds) of relay_backplane_latency_seconds: sub-millisecond on one host up to a second across a WAN. */
export const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;

/** Counters the backplane bumps per message; read at scrape time. */
export interface BackplaneCounters {
  published: number;
  received: number;
  readonly dropped: Record<DropReason, number>;
}

export interface BackplaneMetrics {
  readonly counters: BackplaneCounters;
  /** Records one cross-instance latency (seconds); negative values (clock skew between hosts) count as 0. */
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
    dropped: { disconnected: 0, backpressure: 0, error: 0, malformed: 0 },
  };
  monotonic(registry, 'relay_backplane_published_total', 'Messages this instance published to the backplane (acknowledged by Redis)', () => counters.published);
  monotonic(registry, 'relay_backplane_received_total', 'Messages from other instances delivered to local subscribers', () => counters.received);
  const reported = { disconnected: 0, backpressure: 0, error: 0, malformed: 0 };
  const dropped = new Counter({
    name: 'relay_backplane_dropped_total',
    help: 'Cross-instance messages lost, by reason (Redis unreachable, backpressure, error, unreadable envelope)',
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
  const latency = new PlainHistogram(
    'relay_backplane_latency_seconds',
    'Time from the origin instance publishing a message to this instance delivering it (includes clock offset between hosts)',
    LATENCY_BUCKETS_S,
  );
  // The registry only reads name/help/type and get(); a whole prom-client Histogram is what its type demands.
  registry.registerMetric(latency as unknown as Histogram);
  return { counters, observeLatency: (seconds) => latency.observe(seconds) };
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

/** A label-less histogram kept in a Float64Array; observe() allocates nothing. */
export class PlainHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
  ) {
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const v = value > 0 ? value : 0;
    this.#sum += v;
    this.#count++;
    const bounds = this.#bounds;
    const counts = this.#counts;
    for (let i = 0; i < bounds.length; i++) {
      if (v <= (bounds[i] as number)) {
        counts[i] = (counts[i] as number) + 1;
        return;
      }
    }
  }

  /** The exposition prom-client's Registry renders: cumulative buckets, +Inf, _sum, _count. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const values = this.#bounds.map((le, i): Sample => {
      cumulative += this.#counts[i] as number;
      return { value: cumulative, labels: { le }, metricName: bucket };
    });
    values.push(
      { value: this.#count, labels: { le: '+Inf' }, metricName: bucket },
      { value: this.#sum, labels: {}, metricName: `${this.name}_sum` },
      { value: this.#count, labels: {}, metricName: `${this.name}_count` },
    );
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
