// Paced drain: ends a shutdown's connections evenly over a window instead of in one instant, so the clients that
// reconnect to other instances arrive as a ramp, not a spike.
import { setTimeout as delay } from 'node:timers/promises';

/** Time a client gets to answer a 1001 close frame before its connection is dropped (seconds). */
export const DRAIN_GRACE_S = 1;

/** How often a paced drain wakes to close the next batch (ms); the batch is whatever the schedule says is due. */
const TICK_MS = 20;

/** The clock and the wait a paced drain uses; injectable so a test can run it on a fake clock. */
export interface Pacing {
  /** Monotonic clock (ms). */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<unknown>;
}

const REAL: Pacing = { now: () => performance.now(), sleep: (ms) => delay(ms) };

/**
 * Calls `end` once per item, item i at about `i / n * windowMs` after the start (the first at once, the last
 * before the window ends). With `windowMs` 0 every item ends now, synchronously. Resolves after the last.
 */
export async function pacedEnd<T>(items: readonly T[], windowMs: number, end: (item: T) => void, pacing: Pacing = REAL): Promise<void> {
  const { now, sleep } = pacing;
  const n = items.length;
  if (windowMs <= 0 || n <= 1) {
    for (const item of items) end(item);
    return;
  }
  const start = now();
  let done = 0;
  for (;;) {
    // Items due by now: item i is due at i * windowMs / n.
    const due = Math.min(n, Math.floor(((now() - start) * n) / windowMs) + 1);
    while (done < due) end(items[done++] as T);
    if (done >= n) return;
    const nextAt = start + (done * windowMs) / n;
    await sleep(Math.max(1, Math.min(TICK_MS, nextAt - now())));
  }
}
