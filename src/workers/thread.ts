// A worker thread's entry: one more uWS app on the relay's port, serving its share of the clients. It runs a Shard
// like the main thread's; the process-wide parts (admission, capacity, metrics server, backplane, reload) stay on
// the main thread and reach it through the gate's shared memory, the admission port and the mesh.
//
// A thread that ends while its uWS app still holds a socket aborts the whole process: every way out (close, a
// fatal error) first closes the app and every link, then lets the thread's event loop run empty.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { LevelWithSilent } from 'pino';
import type { Registry } from 'prom-client';
import { CapacityGate, GateState } from '../capacity/gate.js';
import { logPace, OVERLOAD_RETRY_AFTER_S, REST_AFTER_MS, REST_BEAT_MS, THREAD_REPORT_MS } from '../capacity/index.js';
import { ProcessLoad } from '../capacity/load.js';
import { createLogger, setLogLevel, type Logger } from '../logger.js';
import { createMetrics } from '../metrics/registry.js';
import { registerLinkDrops } from '../metrics/threads.js';
import { loadUwsBuild } from '../relay/uws.js';
import { buildRateLimiter, ThrottledLog } from '../security/index.js';
import { AdmissionProxy } from './admission.js';
import { TopicInterest } from './interest.js';
import { Mesh } from './mesh.js';
import { FAULT_ENV, type FromWorker, type ThreadData, type ToWorker } from './protocol.js';
import { Shard } from './shard.js';

const port = parentPort as MessagePort;
const data = workerData as ThreadData;
const post = (m: FromWorker): void => port.postMessage(m);

// Log lines go to the main thread, which writes them where its own go.
const root = createLogger(data.logLevel as LevelWithSilent, { write: (line: string) => post({ type: 'log', line }) });
const logger: Logger = root.child({ worker: data.index });

const appliedCount = new Int32Array(data.applied);
/** Tells the main thread, which waits for every worker, that a reload or certificate is in force here. */
const applied = (): void => {
  Atomics.add(appliedCount, 0, 1);
  Atomics.notify(appliedCount, 0);
};

let shard: Shard | null = null;
let mesh: Mesh | null = null;
let ended = false;

/**
 * Closes everything this thread holds and lets it end; with `registry`, first sends its final counts (a scrape after
 * the shutdown still sums them). Idempotent.
 */
function end(registry?: Registry): void {
  if (ended) return;
  ended = true;
  try {
    shard?.close();
    mesh?.close();
  } finally {
    if (registry === undefined) port.close();
    else
      void registry
        .getMetricsAsJSON()
        .then((json) => post({ type: 'final', json }))
        .finally(() => port.close());
  }
}

process.on('uncaughtException', (err) => {
  post({ type: 'fatal', message: err.message, stack: err.stack ?? err.message });
  end();
});

async function main(): Promise<void> {
  const config = data.config;
  const build = loadUwsBuild({ force: data.uws });
  const metrics = createMetrics(null);
  const state = new GateState(data.gate, data.index);
  const gate = new CapacityGate(state, null, OVERLOAD_RETRY_AFTER_S);
  // This thread's event loop, for the main thread's overload admission (a stuck thread shows as a report overdue).
  // At full rate while this thread has connections or upgrades; at rest, one beat a second meters and reports.
  const meter = new ProcessLoad({
    restMs: REST_BEAT_MS,
    restAfterMs: REST_AFTER_MS,
    working: () => state.openOn(data.index) > 0,
    onPace: (resting) => logPace(logger, resting),
  });
  gate.wake = () => meter.wake();
  /** The next report comes within this long (ms): at the next beat at rest, else one beat past the period. */
  const nextReportMs = (): number => (meter.resting ? meter.beatMs : THREAD_REPORT_MS + meter.beatMs);
  state.noteDelay(0, nextReportMs());
  meter.every(THREAD_REPORT_MS, () => state.noteDelay(meter.own(), nextReportMs()));
  const retire = (): void => {
    meter.close();
    state.retire();
  };
  const securityLog = new ThrottledLog(logger.child({ room: 'security' }));
  let limiter = buildRateLimiter(config.limits, metrics.registry, securityLog);
  const links = new Mesh({ senders: data.senders, peers: data.peers, receivers: data.receivers }, new TopicInterest(data.interest, data.index), data.linkBytes);
  mesh = links;
  registerLinkDrops(metrics.registry, () => links.dropped);
  const s = new Shard({
    config,
    build,
    logger,
    registry: metrics.registry,
    counters: metrics.counters,
    observer: metrics,
    gate,
    defaultBudget: () => data.defaultBudget,
    threads: data.threads,
    backplane: links,
    interest: links.interest,
    ...(data.admission === null ? {} : { admission: new AdmissionProxy(data.admission) }),
    ...(limiter === null ? {} : { limiter }),
  });
  shard = s;
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'metrics':
        void metrics.registry.getMetricsAsJSON().then((json) => post({ type: 'metrics', id: m.id, json }));
        return;
      case 'reload':
        try {
          s.reconfigure(m.config.relay);
          setLogLevel(root, m.config.log.level);
          if (limiter === null) {
            // Rate limits a reload turned on: this thread's own limiter, for its sockets' next messages.
            limiter = buildRateLimiter(m.config.limits, metrics.registry, securityLog);
            if (limiter !== null) s.hub.useLimiter(limiter);
          } else {
            limiter.setLimits(m.config.limits);
          }
        } finally {
          applied();
        }
        return;
      case 'certificate':
        try {
          s.certificates?.apply(m.staged);
        } catch (err) {
          logger.error({ err }, 'replacing the certificate failed on this thread; it keeps the previous one');
        } finally {
          applied();
        }
        return;
      case 'admission':
        s.hub.useAdmission(new AdmissionProxy(m.port));
        return;
      case 'pause':
        s.hub.pauseListening();
        return;
      case 'resume':
        void s.hub.resumeListening().then((ok) => post({ type: 'resumed', id: m.id, ok }));
        return;
      case 'drain':
        // Like the main thread's process, this thread then lives only as long as its clients' connections do: until
        // each answers its 1001, or the close-handshake grace drops it. The main thread waits for it to end.
        retire();
        void s.drain(m.spreadMs).then(async () => {
          mesh?.close();
          post({ type: 'final', json: await metrics.registry.getMetricsAsJSON() });
          post({ type: 'drained', id: m.id });
          port.unref();
        });
        return;
      case 'close':
        retire();
        s.certificates?.close();
        end(metrics.registry);
        return;
      default:
    }
  });
  await s.hub.listen(data.host, data.port, true);
  // Told to close while it was binding (another thread failed the start): the listen socket must not outlive end().
  if (ended) {
    s.close();
    return;
  }
  post({ type: 'listening' });
  if (data.failAfterMs !== null) {
    setTimeout(() => {
      throw new Error(`fault injected ${data.failAfterMs} ms after start (${FAULT_ENV})`);
    }, data.failAfterMs);
  }
}

main().catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: 'fatal', message: e.message, stack: e.stack ?? e.message });
  end();
});
