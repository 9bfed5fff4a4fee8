// One relay from outside: the series that tell the uWS threads apart, and the main thread's view that sums every
// thread's registry at scrape time (prom-client's cluster aggregation: counters and gauges summed).
import type { Registry } from 'prom-client';
import type { GateState } from '../capacity/gate.js';
import { aggregate, Gauge } from './prom.js';
import { monotonic } from './registry.js';

type Metrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What the metrics server serves: a registry, or the sum of several. */
export interface Exposition {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** relay_worker_connections{worker}: the connections each uWS thread holds (worker 0 is the main thread). */
export function registerThreadSeries(registry: Registry, state: GateState): void {
  const threads = state.threads;
  new Gauge({
    name: 'relay_worker_connections',
    help: 'WebSocket connections open now on each uWS thread (worker 0 is the main thread); they sum to relay_connections_active',
    labelNames: ['worker'] as const,
    registers: [registry],
    collect() {
      for (let i = 0; i < threads; i++) this.labels(String(i)).set(state.openOn(i));
    },
  });
}

/**
 * relay_thread_link_dropped_messages_total: messages this thread could not hand to another thread because their link
 * already held its most of bytes that thread had not yet taken (it did not keep up); that thread's subscribers miss
 * them. Registered on every thread, summed at scrape time; stays 0 with one thread.
 * @param read the thread's drops so far (Mesh.dropped)
 */
export function registerLinkDrops(registry: Registry, read: () => number): void {
  monotonic(
    registry,
    'relay_thread_link_dropped_messages_total',
    'Messages a uWS thread did not hand to another thread because their link was full (that thread did not keep up); its subscribers miss them',
    read,
  );
}

/**
 * The main thread's registry summed with the worker threads' (read at scrape time): a counter is the sum of what
 * every thread counted, and never goes down, since threads live as long as the process.
 */
export function summedOver(own: Registry, workers: () => Promise<unknown[]>): Exposition {
  return {
    contentType: own.contentType,
    async metrics() {
      const [mine, theirs] = await Promise.all([own.getMetricsAsJSON(), workers()]);
      const perThread = theirs as Metrics[];
      const inWorkers = new Set(perThread.flatMap((list) => list.map((m) => m.name)));
      // What only the main thread has (process and Node metrics, the process-wide gauges) is passed through as it is:
      // prom-client would drop or average some of it, made as it is for processes that each have their own.
      const main = mine.map((m) => (inWorkers.has(m.name) ? m : { ...m, aggregator: 'first' as const }));
      return aggregate([main, ...perThread]).metrics();
    },
  };
}
