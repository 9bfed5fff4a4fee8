// Protects the relay process itself: a connection cap the open-file limit can hold, a listener that stops
// accepting instead of spinning when descriptors run out, and load-aware admission (event-loop delay, memory).
// Always on; the hub consults the gate on every upgrade, everything else runs on one timer (the meter's beat, see
// load.ts), at full rate while the relay has work and about once a second at rest.
import type { Registry } from 'prom-client';
import { Counter, Gauge } from '../metrics/prom.js';
import type { LimitsConfig } from '../config/security.js';
import type { ReadinessGate, ReloadStep } from '../contracts.js';
import type { Logger } from '../logger.js';
import { fileBudget, BALLAST_FDS, type FileBudget } from './budget.js';
import { FileTable } from './files.js';
import { CapacityGate, connectionCap, type ConnectionCap, type GateState } from './gate.js';
import { ListenerGuard, type ListenerControl } from './listener.js';
import { cpuShareReader, LoadMonitor, monotonicMs, OVERLOAD_CAUSES, ProcessLoad, type LoadSample, type OverloadCause } from './load.js';
import { memoryLimit, type MemoryLimit } from '../relay/memory.js';

/** How often load is sampled while the relay has work (ms): also the window of the worst event-loop delay. */
export const LOAD_INTERVAL_MS = 500;
/** How often a worker thread with work reports its event-loop delay to the main thread (ms). */
export const THREAD_REPORT_MS = 50;
/**
 * The beat of a thread at rest (ms): its load sample, file probe or report, and its meter's resolution. At most
 * OVERLOAD_ENTER_WITHIN_MS / 2, so that two bad samples at rest still start an overload (memory, at rest too).
 */
export const REST_BEAT_MS = 1000;
/** A thread rests once it has had no connection and no upgrade for this long (ms). */
export const REST_AFTER_MS = 2000;
/** An overload starts at the second bad sample within this time (ms): it must recur, not be one stall. */
const OVERLOAD_ENTER_WITHIN_MS = 2000;
/** How long an overload cause stays on after its last bad sample (ms); clients are told to retry after it. */
export const OVERLOAD_HOLD_MS = 5000;
/** What an overloaded relay's 503 asks clients to wait (Retry-After, seconds). */
export const OVERLOAD_RETRY_AFTER_S = Math.ceil(OVERLOAD_HOLD_MS / 1000);
/** How often the descriptor table is probed while the relay has work, or the guard something to watch (ms). */
const FILE_PROBE_INTERVAL_MS = 100;
/**
 * At rest the table is probed at a beat only when the process used at least this share of a core since the last
 * probe at rest (a listener spinning on EMFILE takes all the CPU it can get; a relay at rest uses well under 1%), or
 * REST_PROBE_MAX_MS after the last one. Opening and closing a file runs node's argument validators, which a probe at
 * every beat makes hot enough for V8's optimizing compiler within minutes.
 */
const REST_PROBE_CPU_SHARE = 0.02;
const REST_PROBE_MAX_MS = 10_000;
/**
 * How long the table may stay full while no upgrade request is answered before the listener closes (ms): a spin on
 * EMFILE lasts at most about this long; clients on slow links get this long to send their request after connecting.
 */
const FILE_STUCK_MS = 1000;
/** limits.max_memory_bytes when 0: this share of the memory limit (cgroup, else physical memory). */
export const DEFAULT_MEMORY_SHARE = 0.8;

export interface CapacityOptions {
  readonly limits: LimitsConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly readiness: ReadinessGate;
  /** The gate's state in shared memory (every uWS thread of the process builds a gate on it). */
  readonly state: GateState;
  /** The descriptor table; the real one by default. */
  readonly files?: FileTable;
  /** Load readings and the beat the watches run on; the real process by default (given `working`, see ProcessLoad). */
  readonly load?: (working: () => boolean) => ThreadLoad;
  /** The memory limit max_memory_bytes: 0 derives from; read from cgroup/physical memory by default. */
  readonly memory?: () => MemoryLimit;
  /** Monotonic clock (ms) of the overload monitor and the listener guard; monotonicMs by default. */
  readonly clock?: () => number;
}

export interface Capacity {
  readonly gate: CapacityGate;
  readonly cap: ConnectionCap;
  /** The connection cap for relay_connections_max: 0 when there is none. */
  readonly maxConnections: number;
  /** null where the open-file limit is unknown (not Linux) or unlimited. */
  readonly files: FileBudget | null;
  /** Starts the timers once the hub listens; `listener` is the hub's listen socket. */
  start(listener: ListenerControl): void;
  /** Applies limits.max_connections live; names the other capacity keys a reload changed as needing a restart. */
  readonly reloadStep: ReloadStep;
  /** Stops the timers. Idempotent. */
  close(): void;
}

/** What the capacity watches need from the meter (ProcessLoad). */
export type ThreadLoad = Pick<ProcessLoad, 'sample' | 'every' | 'wake' | 'close' | 'resting'>;

/** The keys this room reads only at start. */
const START_KEYS = ['max_event_loop_delay_ms', 'max_memory_bytes'] as const;

/**
 * Builds the gate (call before the hub listens: the descriptors open now are the baseline the budget keeps).
 * Logs the effective limits once.
 */
export function buildCapacity(opts: CapacityOptions): Capacity {
  const { limits, registry, readiness } = opts;
  const logger = opts.logger.child({ room: 'capacity' });
  const files = opts.files ?? new FileTable();
  const clock = opts.clock ?? monotonicMs;

  const nofile = files.limit();
  // +1: the WebSocket listen socket, bound after this.
  const budget = nofile === null ? null : fileBudget(nofile, (files.used() ?? 0) + 1);
  const cap = connectionCap(limits.max_connections, budget?.maxConnections ?? null);
  if (budget !== null && limits.max_connections > budget.maxConnections) {
    logger.warn(
      { max_connections: limits.max_connections, open_file_limit: budget.limit, allowed: budget.maxConnections },
      'limits.max_connections is more than the open-file limit allows: upgrades past the allowed number get 503 (raise ulimit -n)',
    );
  }

  const memory = limits.max_memory_bytes > 0 ? null : (opts.memory ?? memoryLimit)();
  const maxMemoryBytes = memory === null ? limits.max_memory_bytes : Math.floor(memory.bytes * DEFAULT_MEMORY_SHARE);
  logger.info(
    {
      max_connections: cap.max === Infinity ? null : cap.max,
      max_connections_from: cap.max === Infinity ? null : cap.reason === 'file_limit' ? 'open-file limit' : 'limits.max_connections',
      open_file_limit: nofile,
      ...(budget === null ? {} : { reserved_fds: budget.baseline + budget.spare + budget.handshakes }),
      max_event_loop_delay_ms: limits.max_event_loop_delay_ms || null,
      max_memory_bytes: maxMemoryBytes,
      ...(memory === null ? {} : { max_memory_from: memory.source }),
    },
    'capacity',
  );

  const full = new FullLog(logger);
  const gate = new CapacityGate(opts.state, cap, OVERLOAD_RETRY_AFTER_S, (c) => full.log(c));

  const overloaded = new Gauge({
    name: 'relay_overloaded',
    help: 'Whether new upgrades are refused because the relay is overloaded, by cause (1 = yes)',
    labelNames: ['cause'] as const,
    registers: [registry],
  });
  const byCause = Object.fromEntries(OVERLOAD_CAUSES.map((c) => [c, overloaded.labels(c)])) as Record<OverloadCause, ReturnType<typeof overloaded.labels>>;
  for (const child of Object.values(byCause)) child.set(0);

  let guard: ListenerGuard | null = null;
  let checksSeen = gate.checks;
  /**
   * Work for the main thread's watches: a connection on any thread, an upgrade on any thread since the last beat
   * (the gate counts them in shared memory; one on this thread wakes the beat at once), or a listener to watch.
   */
  const working = (): boolean => {
    const checks = gate.checks;
    const upgraded = checks !== checksSeen;
    checksSeen = checks;
    return upgraded || gate.open > 0 || guard?.watching === true;
  };
  const load = (opts.load ?? realLoad(opts.state, logger))(working);
  gate.wake = () => load.wake();
  const monitor = new LoadMonitor({
    maxDelayMs: limits.max_event_loop_delay_ms,
    maxMemoryBytes,
    enterWithinMs: OVERLOAD_ENTER_WITHIN_MS,
    holdMs: OVERLOAD_HOLD_MS,
    now: clock,
    onChange: (active, sample) => {
      gate.overloaded = active.size > 0;
      for (const cause of OVERLOAD_CAUSES) byCause[cause].set(active.has(cause) ? 1 : 0);
      if (active.size === 0) {
        readiness.unblock('overload');
        logger.info({ event_loop_delay_ms: round(sample.delayMs), rss_bytes: sample.rssBytes }, 'no longer overloaded: accepting upgrades');
        return;
      }
      const why = describeOverload(active, sample, limits.max_event_loop_delay_ms, maxMemoryBytes);
      readiness.block('overload', why);
      logger.warn({ causes: [...active], event_loop_delay_ms: round(sample.delayMs), rss_bytes: sample.rssBytes }, `overloaded: ${why}; new upgrades get 503`);
    },
  });

  new Gauge({
    name: 'relay_event_loop_delay_seconds',
    help: `Worst event-loop delay of any uWS thread in the last sample (every ${LOAD_INTERVAL_MS} ms, ${REST_BEAT_MS} ms at rest), as admission compares it with limits.max_event_loop_delay_ms`,
    registers: [registry],
    collect() {
      this.set(monitor.last.delayMs / 1000);
    },
  });
  new Gauge({
    name: 'relay_memory_max_bytes',
    help: 'Resident memory above which new upgrades get 503 overloaded (limits.max_memory_bytes)',
    registers: [registry],
  }).set(maxMemoryBytes);

  new Gauge({
    name: 'relay_accepting',
    help: 'Whether the WebSocket listener is open (0 while closed at the open-file limit)',
    registers: [registry],
    collect() {
      this.set(guard === null || guard.accepting ? 1 : 0);
    },
  });
  let pausesReported = 0;
  new Counter({
    name: 'relay_listener_pauses_total',
    help: 'Times the WebSocket listener was closed because the open-file limit was reached',
    registers: [registry],
    collect() {
      const now = guard?.pauses ?? 0;
      if (now > pausesReported) this.inc(now - pausesReported);
      pausesReported = now;
    },
  });

  return {
    gate,
    cap,
    get maxConnections() {
      return gate.cap.max === Infinity ? 0 : gate.cap.max;
    },
    reloadStep: {
      name: 'capacity',
      restartOnly: (next, running) => START_KEYS.filter((k) => next.limits[k] !== running.limits[k]).map((k) => `limits.${k}`),
      prepare: (next, running) => {
        if (next.limits.max_connections === running.limits.max_connections) return null;
        const nextCap = connectionCap(next.limits.max_connections, budget?.maxConnections ?? null);
        return { commit: () => (gate.cap = nextCap) };
      },
    },
    files: budget,
    start(listener) {
      // What the loop went through while the relay was starting is not load.
      load.sample();
      if (guard !== null) return;
      load.every(LOAD_INTERVAL_MS, () => {
        try {
          const sample = load.sample();
          if (logger.isLevelEnabled('debug')) logger.debug({ event_loop_delay_ms: round(sample.delayMs), rss_bytes: sample.rssBytes }, 'load sample');
          monitor.observe(sample);
        } catch (err) {
          logger.error({ err }, 'load sample failed');
        }
      });
      const probe = new ListenerGuard({
        files,
        listener,
        readiness,
        logger,
        ballast: BALLAST_FDS,
        resumeFree: Math.ceil((budget?.handshakes ?? 64) / 2),
        limit: nofile,
        answered: () => gate.checks,
        stuckMs: FILE_STUCK_MS,
        now: clock,
      });
      guard = probe;
      const cpuShare = cpuShareReader(clock);
      let restProbeAt = -Infinity;
      load.every(FILE_PROBE_INTERVAL_MS, () => {
        if (load.resting) {
          const now = clock();
          if (cpuShare() < REST_PROBE_CPU_SHARE && now - restProbeAt < REST_PROBE_MAX_MS) return;
          restProbeAt = now;
        }
        void probe.check();
      });
    },
    close() {
      load.close();
      guard?.close();
    },
  };
}

/** The real process's meter, its beat paced by `working` (the other threads' delays come through shared memory). */
function realLoad(state: GateState, logger: Logger): (working: () => boolean) => ThreadLoad {
  return (working) =>
    new ProcessLoad({ restMs: REST_BEAT_MS, restAfterMs: REST_AFTER_MS, working, others: () => state.othersDelayMs(), onPace: (resting) => logPace(logger, resting) });
}

/** One debug line when a thread's capacity watches start or stop resting. */
export function logPace(logger: Logger, resting: boolean): void {
  if (resting) logger.debug({ beat_ms: REST_BEAT_MS }, 'no connection and no upgrade: capacity watches at rest');
  else logger.debug('capacity watches at full rate');
}

function describeOverload(active: ReadonlySet<OverloadCause>, sample: LoadSample, maxDelayMs: number, maxMemoryBytes: number): string {
  const parts: string[] = [];
  if (active.has('event_loop')) parts.push(`event-loop delay ${round(sample.delayMs)} ms (limit ${maxDelayMs} ms)`);
  if (active.has('memory')) parts.push(`resident memory ${mib(sample.rssBytes)} MiB (limit ${mib(maxMemoryBytes)} MiB)`);
  return parts.join(', ');
}

const round = (ms: number): number => Math.round(ms);
const mib = (bytes: number): number => Math.round(bytes / 1048576);

/** One line when the cap is reached, at most once a minute. */
class FullLog {
  static readonly INTERVAL_MS = 60_000;
  readonly #logger: Logger;
  #lastFull = -Infinity;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  log(cap: ConnectionCap): void {
    const now = performance.now();
    if (now - this.#lastFull < FullLog.INTERVAL_MS) return;
    this.#lastFull = now;
    const from = cap.reason === 'file_limit' ? 'what the open-file limit allows' : 'limits.max_connections';
    this.#logger.warn({ max_connections: cap.max, reason: cap.reason }, `connection limit reached (${cap.max}, ${from}): new upgrades get 503`);
  }
}
