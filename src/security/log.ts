// Refusal logging that an attacker cannot turn into a log flood: at most one line per reason per interval.
import type { Logger } from '../logger.js';

/** Logs the first event of each reason per interval and counts the rest into the next line's `suppressed`. */
export class ThrottledLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  /**
   * @param intervalMs minimum time between two lines of one reason (default 1000)
   * @param now clock (ms)
   */
  constructor(logger: Logger, intervalMs = 1000, now: () => number = Date.now) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** `reason` must come from a bounded set (it keys the throttle). Never pass credentials in `fields`. */
  info(reason: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.#now();
    const last = this.#last.get(reason);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    this.#logger.info({ ...fields, reason, suppressed: last?.suppressed ?? 0 }, msg);
    this.#last.set(reason, { at: now, suppressed: 0 });
  }
}
