// Is the relay overloaded? Event-loop delay and resident memory, sampled on a timer and compared with
// limits.max_event_loop_delay_ms and limits.max_memory_bytes. A cause starts at its second bad sample within a window
// (one stall, a GC pause or a slow start is not an overload), latches for a hold time after its last bad sample, so
// admission and /readyz do not flap at the threshold, and clears by itself.

export const OVERLOAD_CAUSES = ['event_loop', 'memory'] as const;
export type OverloadCause = (typeof OVERLOAD_CAUSES)[number];

/** One reading of the process's load. */
export interface LoadSample {
  /** Worst event-loop delay since the previous sample (ms). */
  readonly delayMs: number;
  /** Resident set size (bytes). */
  readonly rssBytes: number;
}

export interface LoadMonitorOptions {
  /** 0 = the event loop is not watched. */
  readonly maxDelayMs: number;
  /** 0 = memory is not watched. */
  readonly maxMemoryBytes: number;
  /** A cause starts when a bad sample comes at most this long after the previous bad one (ms); 0: at the first. */
  readonly enterWithinMs: number;
  /** How long a cause stays on after its last bad sample (ms). */
  readonly holdMs: number;
  /** Monotonic clock (ms). */
  readonly now: () => number;
  /** Called when the set of active causes changes (never per sample). */
  readonly onChange: (active: ReadonlySet<OverloadCause>, sample: LoadSample) => void;
}

/** Once on, memory stays on until RSS is back under this share of the threshold. */
const MEMORY_RELEASE_SHARE = 0.9;

export class LoadMonitor {
  readonly #opts: LoadMonitorOptions;
  readonly #lastBad = new Map<OverloadCause, number>();
  /** When each cause last had a bad sample, whether or not it was on. */
  readonly #lastOver = new Map<OverloadCause, number>();
  readonly #active = new Set<OverloadCause>();
  #last: LoadSample = { delayMs: 0, rssBytes: 0 };

  constructor(opts: LoadMonitorOptions) {
    this.#opts = opts;
  }

  get active(): ReadonlySet<OverloadCause> {
    return this.#active;
  }

  get overloaded(): boolean {
    return this.#active.size > 0;
  }

  /** The latest sample. */
  get last(): LoadSample {
    return this.#last;
  }

  /** Feeds one sample; calls onChange when a cause starts or ends. */
  observe(sample: LoadSample): void {
    const { maxDelayMs, maxMemoryBytes, holdMs, enterWithinMs, now } = this.#opts;
    const t = now();
    this.#last = sample;
    const memoryThreshold = this.#active.has('memory') ? maxMemoryBytes * MEMORY_RELEASE_SHARE : maxMemoryBytes;
    const over: Record<OverloadCause, boolean> = {
      event_loop: maxDelayMs > 0 && sample.delayMs > maxDelayMs,
      memory: maxMemoryBytes > 0 && sample.rssBytes > memoryThreshold,
    };
    let changed = false;
    for (const cause of OVERLOAD_CAUSES) {
      if (over[cause]) {
        const previous = this.#lastOver.get(cause);
        this.#lastOver.set(cause, t);
        const repeated = enterWithinMs === 0 || (previous !== undefined && t - previous <= enterWithinMs);
        if (this.#active.has(cause) || repeated) this.#lastBad.set(cause, t);
      }
      const bad = this.#lastBad.get(cause);
      const on = bad !== undefined && (bad === t || t - bad < holdMs);
      if (on === this.#active.has(cause)) continue;
      changed = true;
      if (on) this.#active.add(cause);
      else this.#active.delete(cause);
    }
    if (changed) this.#opts.onChange(this.#active, sample);
  }
}

/**
 * Monotonic milliseconds, with no JavaScript between the caller and the clock. performance.now() checks its receiver
 * with one of node's validators at every call: at rest, that was most of the JavaScript the beat ran, and it was the
 * first function V8 compiled with TurboFan (after about 5 minutes at one beat a second, Node 20).
 */
export const monotonicMs = (): number => process.uptime() * 1000;

/**
 * Returns a reader of the share of one core the process (all its threads) used since the reader's previous call,
 * on `now`'s clock (ms).
 */
export function cpuShareReader(now: () => number = monotonicMs): () => number {
  let last = process.cpuUsage();
  let at = now();
  return () => {
    const cpu = process.cpuUsage();
    const t = now();
    const share = (cpu.user - last.user + cpu.system - last.system) / 1000 / Math.max(1, t - at);
    last = cpu;
    at = t;
    return share;
  };
}

/** What ProcessLoad's beat runs besides the meter (see every()). */
interface Task {
  readonly periodMs: number;
  readonly run: () => void;
  /** When it last ran (ms, the clock's). */
  last: number;
}

export interface ProcessLoadOptions {
  /** The beat's period while the thread has work (ms): the meter's resolution then. Default 20. */
  readonly busyMs?: number;
  /** The beat's period at rest (ms): the meter's resolution then, and how often every task runs. Default 1000. */
  readonly restMs?: number;
  /** How long the thread must have been without work before it rests (ms). Default 2000. */
  readonly restAfterMs?: number;
  /** Whether the thread has work now (open connections, a listener to watch); read at every beat. Default: always. */
  readonly working?: () => boolean;
  /** The worst delay of the process's other uWS threads since the last sample (ms); none by default. */
  readonly others?: () => number;
  /** Monotonic clock (ms); monotonicMs by default. */
  readonly now?: () => number;
  /** Told when the thread starts or stops resting (a debug line). */
  readonly onPace?: (resting: boolean) => void;
}

/**
 * Reads the real process: the event loop's worst delay since the previous sample (how late the thread's beat fires)
 * and RSS. perf_hooks' monitorEventLoopDelay is not used because its reset() drops the interval that spans it: a stall
 * at a sample boundary went unseen. Here a stall is counted in exactly one sample, whichever reading sees it first.
 *
 * The beat is the thread's one timer for its capacity watches: the tasks given to every() (the load sample, the file
 * probe, a worker's report) run on it. It beats every 20 ms while the thread has work, and once a second at rest
 * (no connection, no upgrade, for restAfterMs): a relay nobody uses then runs about one timer a second per thread
 * instead of about eighty, which keeps node's timer code cold (V8 compiles hot code with TurboFan, whose pages and
 * heap the process then keeps). At rest the meter's resolution is the rest period: a stall is seen when it makes a
 * beat late. wake() (an upgrade) brings the full rate back at once; the time spent at rest is never counted as delay.
 */
export class ProcessLoad {
  readonly #busyMs: number;
  readonly #restMs: number;
  readonly #restAfterMs: number;
  readonly #working: () => boolean;
  readonly #others: () => number;
  readonly #now: () => number;
  readonly #onPace: (resting: boolean) => void;
  readonly #tasks: Task[] = [];
  #timer: NodeJS.Timeout | null = null;
  #periodMs: number;
  /** When the beat is due next (ms). */
  #due: number;
  #resting = false;
  /** An upgrade arrived since the last beat. */
  #woken = false;
  /** The last beat (or wake) that found work. */
  #lastWork: number;
  #closed = false;
  #worstMs = 0;
  #rssBytes = 0;

  constructor(opts: ProcessLoadOptions = {}) {
    this.#busyMs = opts.busyMs ?? 20;
    this.#restMs = opts.restMs ?? 1000;
    this.#restAfterMs = opts.restAfterMs ?? 2000;
    this.#working = opts.working ?? (() => true);
    this.#others = opts.others ?? (() => 0);
    this.#now = opts.now ?? monotonicMs;
    this.#onPace = opts.onPace ?? (() => {});
    this.#periodMs = this.#busyMs;
    const now = this.#now();
    this.#lastWork = now;
    this.#due = now + this.#periodMs;
    this.#arm();
  }

  /** True while the thread rests: the beat is slow. */
  get resting(): boolean {
    return this.#resting;
  }

  /** The beat's period now (ms). */
  get beatMs(): number {
    return this.#periodMs;
  }

  /**
   * Runs `task` on the beat: at the first beat at least `periodMs` after its last run while the thread has work, at
   * every beat at rest. It must not throw (a timer's exception ends the process).
   */
  every(periodMs: number, task: () => void): void {
    this.#tasks.push({ periodMs, run: task, last: this.#now() });
  }

  /**
   * Work arrived (an upgrade): at rest, the full rate comes back now, before the caller reads the load. A beat
   * that is late right now counts (the loop is late); the rest period itself does not. One flag on the upgrade path.
   */
  wake(): void {
    this.#woken = true;
    if (this.#resting && !this.#closed) this.#pace(false, this.#note());
  }

  sample(): LoadSample {
    this.#note();
    // Every uWS thread serves clients: the worst loop of the process is what admission compares.
    const delayMs = Math.max(this.#worstMs, this.#others());
    this.#worstMs = 0;
    try {
      this.#rssBytes = process.memoryUsage.rss();
    } catch {
      // It reads /proc, which fails with EMFILE at the file limit: keep the previous reading.
    }
    return { delayMs, rssBytes: this.#rssBytes };
  }

  /** Stops the beat. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** The worst delay seen since the last call, this thread's alone (a worker thread reports it to the main one). */
  own(): number {
    this.#note();
    const delayMs = this.#worstMs;
    this.#worstMs = 0;
    return delayMs;
  }

  readonly #beat = (): void => {
    const now = this.#note();
    const working = this.#woken || this.#working();
    this.#woken = false;
    if (working) this.#lastWork = now;
    const rest = !working && now - this.#lastWork >= this.#restAfterMs;
    const wasResting = this.#resting;
    // Before the tasks run: a worker's report tells the main thread when its next one is due.
    if (rest !== wasResting) this.#pace(rest, now);
    else this.#due = now + this.#periodMs;
    // At rest every task runs at every beat; so it does at the beat that starts the rest (a worker's report then
    // tells the main thread it beats slowly from now on). Half a beat of slack: a task of 500 ms runs at the beat
    // nearest to 500 ms, not one beat later.
    const all = wasResting || rest;
    const slack = this.#busyMs / 2;
    for (const task of this.#tasks) {
      if (!all && now - task.last < task.periodMs - slack) continue;
      task.last = now;
      task.run();
    }
  };

  /** Switches between the two rates. */
  #pace(rest: boolean, now: number): void {
    this.#resting = rest;
    this.#periodMs = rest ? this.#restMs : this.#busyMs;
    this.#due = now + this.#periodMs;
    if (!rest) this.#lastWork = now;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#arm();
    this.#onPace(rest);
  }

  #arm(): void {
    this.#timer = setInterval(this.#beat, this.#periodMs).unref();
  }

  /** Counts how late the beat is now, once: the lateness seen here is not seen again by the next reading. */
  #note(): number {
    const now = this.#now();
    if (now > this.#due) {
      this.#worstMs = Math.max(this.#worstMs, now - this.#due);
      this.#due = now;
    }
    return now;
  }
}
