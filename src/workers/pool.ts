// The main thread's view of the worker threads: starts them on the relay's port, wires the mesh between every pair of
// threads, and runs each process-wide step (metrics, reload, certificate, pause, drain, close) on all of them. A
// worker that fails takes the relay down: onFatal is told once, and the relay exits rather than run half-working.
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { writeLine } from '../logger.js';
import type { StagedCertificate } from '../relay/tls.js';
import { transferList, type LinkEnd } from './carrier.js';
import { CARRIER, type MeshEnds } from './mesh.js';
import type { FromWorker, ThreadData, ToWorker } from './protocol.js';

/** How long a worker may take to start listening (ms). */
const START_TIMEOUT_MS = 20_000;
/** How long a reload waits for every worker to have applied it (ms). */
const APPLY_TIMEOUT_MS = 2000;

export interface PoolOptions {
  readonly threads: number;
  readonly config: Config;
  /** The uWS build's version, so every thread loads the one the main thread did. */
  readonly uws: string;
  readonly gate: SharedArrayBuffer;
  /** The topic table (workers/interest.ts). */
  readonly interest: SharedArrayBuffer;
  readonly logger: Logger;
  readonly host: string;
  readonly port: number;
  readonly defaultBudget: number;
  /** What each link between threads may hold (bytes; mesh.ts linkBound). */
  readonly linkBytes: number;
  /** Per worker, its end of the admission channel; null without an admission. */
  readonly admission: ((index: number) => MessagePort) | null;
  /** Fault injection for tests: the last worker throws this long after it listens (ms). */
  readonly failAfterMs: number | null;
  /** A worker failed (uncaught error, or it ended by itself); called once. */
  readonly onFatal: (index: number, message: string, stack: string) => void;
}

/** Creates the links between every ordered pair of `threads` threads; thread 0's ends stay on the main thread. */
export function meshEnds(threads: number): MeshEnds[] {
  const ends = Array.from({ length: threads }, () => ({ senders: [] as LinkEnd[], peers: [] as number[], receivers: [] as LinkEnd[] }));
  for (let from = 0; from < threads; from++) {
    for (let to = 0; to < threads; to++) {
      if (from === to) continue;
      const link = CARRIER.createLink();
      ends[from]?.senders.push(link.sender);
      ends[from]?.peers.push(to);
      ends[to]?.receivers.push(link.receiver);
    }
  }
  return ends;
}

/** The running worker threads (1..threads-1). */
export class WorkerPool {
  readonly #workers: Worker[];
  readonly #exited: Promise<void>[];
  readonly #pending = new Map<number, { readonly worker: Worker; readonly settle: (m: FromWorker) => void }>();
  /** Set at the drain: from then on each worker ends by itself once its last client is gone. */
  #draining = false;
  #next = 0;
  /** Workers that have ended: nothing asked of them would be answered. */
  readonly #gone = new Set<Worker>();
  #closing = false;
  #fatal = false;

  /** Each worker's counts as it ended (for a scrape after the shutdown). */
  readonly #finals: unknown[];

  /** Reloads and certificates each worker has applied (one count for all): a reload waits until all have. */
  readonly #applied: Int32Array;

  private constructor(workers: Worker[], exited: Promise<void>[], finals: unknown[], applied: Int32Array) {
    this.#workers = workers;
    this.#exited = exited;
    this.#finals = finals;
    this.#applied = applied;
  }

  /**
   * Starts the workers with their mesh ends (ends[1..]) and resolves once every one listens.
   * @throws Error when a worker fails to start (the others are closed first)
   */
  static async start(opts: PoolOptions, ends: readonly MeshEnds[]): Promise<WorkerPool> {
    const workers: Worker[] = [];
    const exited: Promise<void>[] = [];
    const listening: Promise<void>[] = [];
    const finals: unknown[] = [];
    const applied = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    let pool: WorkerPool | null = null;
    // A worker that fails after it listens but before every worker does fails the start: the relay that would run
    // its onFatal has no pool to close yet, and a process that exits while a thread holds sockets aborts.
    let ready = false;
    let failStart: (err: Error) => void = () => {};
    const startFailed = new Promise<never>((_, reject) => {
      failStart = reject;
    });
    startFailed.catch(() => {});
    for (let index = 1; index < opts.threads; index++) {
      const own = ends[index] as MeshEnds;
      const admission = opts.admission?.(index) ?? null;
      const data: ThreadData = {
        index,
        threads: opts.threads,
        config: opts.config,
        logLevel: opts.logger.level,
        uws: opts.uws,
        gate: opts.gate,
        senders: own.senders,
        peers: own.peers,
        receivers: own.receivers,
        interest: opts.interest,
        admission,
        host: opts.host,
        port: opts.port,
        defaultBudget: opts.defaultBudget,
        linkBytes: opts.linkBytes,
        failAfterMs: index === opts.threads - 1 ? opts.failAfterMs : null,
        applied,
      };
      const transfer = [...[...own.senders, ...own.receivers].flatMap(transferList), ...(admission === null ? [] : [admission])];
      const worker = new Worker(threadEntry(), { workerData: data, transferList: transfer, stdout: false, stderr: false });
      workers.push(worker);
      let started = false;
      listening.push(
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`worker ${index} did not start listening within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
          const fail = (message: string, stack: string): void => {
            if (!started) {
              clearTimeout(timer);
              reject(new Error(`worker ${index}: ${message}`));
              return;
            }
            if (!ready) failStart(new Error(`worker ${index}: ${message}`));
            else if (pool !== null) pool.#failed(index, message, stack, opts.onFatal);
          };
          worker.on('message', (m: FromWorker) => {
            switch (m.type) {
              case 'listening':
                started = true;
                clearTimeout(timer);
                resolve();
                return;
              case 'log':
                writeLine(opts.logger, m.line);
                return;
              case 'fatal':
                fail(m.message, m.stack);
                return;
              case 'final':
                finals[index - 1] = m.json;
                return;
              default:
                if (pool !== null) pool.#reply(m);
            }
          });
          worker.on('error', (err) => fail(err.message, err.stack ?? err.message));
          exited.push(
            new Promise((done) =>
              worker.once('exit', (code) => {
                if (pool === null || !(pool.#closing || pool.#draining)) fail(`ended unexpectedly (exit code ${code})`, '');
                if (pool !== null) pool.#gone.add(worker);
                // Nothing it was asked is answered now: settle those asks (a scrape gets the final counts).
                if (pool !== null) for (const [id, ask] of pool.#pending) if (ask.worker === worker) pool.#reply({ type: 'drained', id });
                done();
              }),
            ),
          );
        }),
      );
    }
    pool = new WorkerPool(workers, exited, finals, new Int32Array(applied));
    try {
      await Promise.race([Promise.all(listening), startFailed]);
      ready = true;
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /**
   * Every worker's registry as JSON (prom-client's getMetricsAsJSON), for the main thread to sum. A draining worker
   * still answers (a drain paced over drain_spread_s lasts that long, and a scrape must not wait it out); one that has
   * ended is represented by the counts it sent as it drained or closed.
   */
  metrics(): Promise<unknown[]> {
    if (this.#closing) return Promise.all(this.#exited).then(() => this.#finals.filter((json) => json !== undefined));
    return Promise.all(
      this.#workers.map((w, i) => this.#ask(w, (id) => ({ type: 'metrics', id })).then((m) => (m.type === 'metrics' ? m.json : (this.#finals[i] ?? [])))),
    );
  }

  /**
   * Plugs an admission a reload turned on into every worker: each gets a channel to it (`serve` takes the main
   * thread's end) and an AdmissionProxy for its upgrades from then on.
   */
  plugAdmission(serve: (mainEnd: MessagePort) => void): void {
    for (const worker of this.#workers) {
      const [mainEnd, workerEnd] = admissionChannel();
      serve(mainEnd);
      try {
        worker.postMessage({ type: 'admission', port: workerEnd } satisfies ToWorker, [workerEnd]);
      } catch {
        // that worker has ended
      }
    }
  }

  /** Applies a reloaded configuration on every worker; returns once all have (see #applyEverywhere). */
  reload(config: Config): void {
    this.#applyEverywhere({ type: 'reload', config });
  }

  /** Serves a new certificate on every worker; returns once all do. */
  certificate(staged: StagedCertificate): void {
    this.#applyEverywhere({ type: 'certificate', staged });
  }

  /**
   * Tells every worker and blocks the main thread (a reload is rare, and workers run on their own threads) until each
   * has applied it, at most APPLY_TIMEOUT_MS: when a reload returns, a new connection on any thread sees its effect.
   */
  #applyEverywhere(m: ToWorker): void {
    if (this.#closing) return;
    const target = Atomics.load(this.#applied, 0) + this.#workers.length;
    this.#tell(m);
    const deadline = performance.now() + APPLY_TIMEOUT_MS;
    for (;;) {
      const now = Atomics.load(this.#applied, 0);
      const left = deadline - performance.now();
      if (now >= target || left <= 0) return;
      Atomics.wait(this.#applied, 0, now, left);
    }
  }

  pause(): void {
    this.#tell({ type: 'pause' });
  }

  /** Listens again on every worker; false when one could not. */
  async resume(): Promise<boolean> {
    const answers = await Promise.all(this.#workers.map((w) => this.#ask(w, (id) => ({ type: 'resume', id }))));
    return answers.every((m) => m.type !== 'resumed' || m.ok);
  }

  /**
   * Every worker stops accepting and sends its clients 1001 (paced over spreadMs); resolves when every worker's
   * clients are gone (closed, or dropped after the close-handshake grace).
   */
  async drain(spreadMs: number): Promise<void> {
    this.#draining = true;
    await Promise.all(this.#workers.map((w) => this.#ask(w, (id) => ({ type: 'drain', id, spreadMs }))));
  }

  /** Resolves once every worker has ended by itself (after a drain, when its last connection is gone). */
  async ended(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#exited);
  }

  /** Every worker drops what it still holds and ends; resolves when all have ended. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#tell({ type: 'close' });
    // Whatever was still waiting for a worker's answer (a drain, a scrape) has its answer now.
    for (const [id, ask] of this.#pending) ask.settle({ type: 'drained', id });
    this.#pending.clear();
    await Promise.all(this.#exited);
  }

  #failed(index: number, message: string, stack: string, onFatal: PoolOptions['onFatal']): void {
    if (this.#fatal || this.#closing) return;
    this.#fatal = true;
    onFatal(index, message, stack);
  }

  #tell(m: ToWorker): void {
    for (const w of this.#workers) {
      try {
        w.postMessage(m);
      } catch {
        // that worker has ended
      }
    }
  }

  /** Asks one worker and waits for its answer; once closing (the worker may be gone), answers at once for it. */
  #ask(worker: Worker, make: (id: number) => ToWorker): Promise<FromWorker> {
    const id = this.#next++;
    if (this.#closing || this.#gone.has(worker)) return Promise.resolve({ type: 'drained', id });
    return new Promise((resolve) => {
      this.#pending.set(id, { worker, settle: resolve });
      worker.postMessage(make(id));
    });
  }

  #reply(m: FromWorker): void {
    if (!('id' in m)) return;
    const ask = this.#pending.get(m.id);
    this.#pending.delete(m.id);
    ask?.settle(m);
  }
}

/**
 * The worker's entry module. Compiled, it sits next to this file; run from TypeScript sources (the tests), the
 * threads run the build in dist/, which the test setup rebuilds whenever src/ is newer.
 */
function threadEntry(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('../../dist/workers/thread.js', import.meta.url) : new URL('./thread.js', import.meta.url);
}

/** A channel for one worker's admission: [the main thread's end, the worker's end]. */
export function admissionChannel(): [MessagePort, MessagePort] {
  const { port1, port2 } = new MessageChannel();
  return [port1, port2];
}
