// Is the relay overloaded? Event-loop delay and resident memory, sampled on a timer and compared with
// limits.max_event_loop_delay_ms and limits.max_memory_bytes. A cause starts after several bad samples in a row (one
// stall, a GC pause or a slow start is not an overload), latches for a hold time after its last bad sample, so
// admission and /readyz do not flap at the threshold, and clears by itself.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export const OVERLOAD_CAUSES = ['event_loop', 'memory'] as const;
export type OverloadCause = (typeof OVERLOAD_CAUSES)[number];

/** One reading of the process's load. */
export interface LoadSample {
  /** p99 event-loop delay since the previous sample (ms). */
  readonly delayMs: number;
  /** Resident set size (bytes). */
  readonly rssBytes: number;
}

export interface LoadMonitorOptions {
  /** 0 = the event loop is not watched. */
  readonly maxDelayMs: number;
  /** 0 = memory is not watched. */
  readonly maxMemoryBytes: number;
  /** Bad samples in a row that start a cause. */
  readonly enterAfter: number;
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
  readonly #streak: Record<OverloadCause, number> = { event_loop: 0, memory: 0 };
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
    const { maxDelayMs, maxMemoryBytes, holdMs, enterAfter, now } = this.#opts;
    const t = now();
    this.#last = sample;
    const memoryThreshold = this.#active.has('memory') ? maxMemoryBytes * MEMORY_RELEASE_SHARE : maxMemoryBytes;
    const over: Record<OverloadCause, boolean> = {
      event_loop: maxDelayMs > 0 && sample.delayMs > maxDelayMs,
      memory: maxMemoryBytes > 0 && sample.rssBytes > memoryThreshold,
    };
    let changed = false;
    for (const cause of OVERLOAD_CAUSES) {
      this.#streak[cause] = over[cause] ? this.#streak[cause] + 1 : 0;
      if (over[cause] && (this.#active.has(cause) || this.#streak[cause] >= enterAfter)) this.#lastBad.set(cause, t);
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

/** Reads the real process: a perf_hooks event-loop-delay histogram (reset at each sample) and RSS. */
export class ProcessLoad {
  readonly #histogram;
  readonly #resolutionMs: number;
  #rssBytes = 0;

  /** @param resolutionMs the histogram's timer period (ms); its own period is subtracted from what it records */
  constructor(resolutionMs = 20) {
    this.#resolutionMs = resolutionMs;
    this.#histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#histogram.enable();
  }

  sample(): LoadSample {
    const h = this.#histogram;
    const p99 = h.count > 0 ? h.percentile(99) / 1e6 : 0;
    h.reset();
    try {
      this.#rssBytes = process.memoryUsage.rss();
    } catch {
      // It reads /proc, which fails with EMFILE at the file limit: keep the previous reading.
    }
    return { delayMs: Math.max(0, p99 - this.#resolutionMs), rssBytes: this.#rssBytes };
  }

  close(): void {
    this.#histogram.disable();
  }
}
