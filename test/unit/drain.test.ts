// Paced drain schedule, on a fake clock: item i ends at i/n of the window, all within it, in order.
import { describe, expect, it } from 'vitest';
import { pacedEnd } from '../../src/relay/drain.js';

function fakeClock() {
  let t = 0;
  return { now: () => t, sleep: (ms: number) => ((t += ms), Promise.resolve()) };
}

describe('pacedEnd', () => {
  it('spreads n items evenly over the window, the first at once', async () => {
    const clock = fakeClock();
    const ended: [number, number][] = [];
    await pacedEnd(Array.from({ length: 10 }, (_, i) => i), 1000, (i) => ended.push([i, clock.now()]), clock);
    expect(ended.map(([i]) => i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const [i, at] of ended) {
      expect(at).toBeGreaterThanOrEqual(i * 100);
      expect(at).toBeLessThan(i * 100 + 21); // within one tick of its slot
    }
    expect(ended[9]![1]).toBeLessThan(1000);
  });

  it('many items per tick: batches, still all within the window', async () => {
    const clock = fakeClock();
    const ended: number[] = [];
    await pacedEnd(Array.from({ length: 1001 }, (_, i) => i), 10_000, () => ended.push(clock.now()), clock);
    expect(ended).toHaveLength(1001);
    expect(ended[500]).toBeGreaterThan(4900);
    expect(ended[500]).toBeLessThan(5100);
    expect(ended[1000]).toBeLessThan(10_000);
  });

  it('a window of 0 ends everything at once, synchronously', () => {
    const ended: number[] = [];
    void pacedEnd([1, 2, 3], 0, (i) => ended.push(i));
    expect(ended).toEqual([1, 2, 3]);
  });
});
