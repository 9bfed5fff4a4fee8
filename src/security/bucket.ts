// A token bucket with an injectable clock. Pure, allocation-free after construction.

/** Holds up to `burst` tokens, refilled at `ratePerSecond`; spending is all-or-nothing. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #updatedAt: number;

  /**
   * @param ratePerSecond sustained rate (> 0)
   * @param burst capacity; the bucket starts full
   * @param now current time (ms, monotonic)
   */
  constructor(ratePerSecond: number, burst: number, now: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /** Refills for the time passed since the last call; returns the tokens available. */
  refill(now: number): number {
    const elapsed = now - this.#updatedAt;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs);
      this.#updatedAt = now;
    }
    return this.#tokens;
  }

  /**
   * Whether `cost` may be spent now (call `refill` first). A cost larger than the whole burst is allowed only
   * from a full bucket, and leaves it in debt, so an oversized message is slowed to the sustained rate instead
   * of being refused forever.
   */
  canSpend(cost: number): boolean {
    return this.#tokens >= cost || this.#tokens >= this.#burst;
  }

  spend(cost: number): void {
    this.#tokens -= cost;
  }

  /** refill + canSpend + spend. */
  take(cost: number, now: number): boolean {
    this.refill(now);
    if (!this.canSpend(cost)) return false;
    this.#tokens -= cost;
    return true;
  }
}

/** The bucket size for a rate: `burst`, or one second's worth (at least one token) when 0. */
export function burstFor(ratePerSecond: number, burst: number): number {
  return burst > 0 ? burst : Math.max(1, ratePerSecond);
}
