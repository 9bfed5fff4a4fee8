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
 * Reads the real process: the event loop's worst delay since the previous sample (how late a 20 ms timer fires) and
 * RSS. perf_hooks' monitorEventLoopDelay is not used because its reset() drops the interval that spans it: a stall
 * at a sample boundary went unseen. Here a stall is counted in exactly one sample, whichever timer sees it first.
 */
export class ProcessLoad {
  readonly #periodMs: number;
  readonly #timer: NodeJS.Timeout;
  /** When the meter's timer is due next (ms, performance.now()). */
  #due: number;
  #worstMs = 0;
  #rssBytes = 0;

  readonly #others: () => number;

  /**
   * @param periodMs the meter's timer period (ms): its resolution
   * @param others the worst delay of the process's other uWS threads since the last sample (ms); none by default
   */
  constructor(periodMs = 20, others: () => number = () => 0) {
    this.#others = others;
    this.#periodMs = periodMs;
    this.#due = performance.now() + periodMs;
    this.#timer = setInterval(() => {
      const now = this.#note();
      this.#due = now + this.#periodMs;
    }, periodMs).unref();
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

  close(): void {
    clearInterval(this.#timer);
  }

  /** The worst delay seen since the last call, this thread's alone (a worker thread reports it to the main one). */
  own(): number {
    this.#note();
    const delayMs = this.#worstMs;
    this.#worstMs = 0;
    return delayMs;
  }

  /** Counts how late the meter is now, once: the lateness seen here is not seen again by the next reading. */
  #note(): number {
    const now = performance.now();
    if (now > this.#due) {
      this.#worstMs = Math.max(this.#worstMs, now - this.#due);
      this.#due = now;
    }
    return now;
  }
}
