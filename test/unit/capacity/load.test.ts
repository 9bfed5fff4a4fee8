import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoadMonitor, ProcessLoad, type LoadMonitorOptions, type OverloadCause } from '../../../src/capacity/load.js';

function monitor(opts: Partial<LoadMonitorOptions> = {}) {
  let t = 0;
  const changes: OverloadCause[][] = [];
  const m = new LoadMonitor({
    maxDelayMs: 500,
    maxMemoryBytes: 1000,
    enterWithinMs: 0,
    holdMs: 5000,
    now: () => t,
    onChange: (active) => changes.push([...active]),
    ...opts,
  });
  return { m, changes, at: (ms: number) => (t = ms) };
}

describe('load monitor', () => {
  it('an event-loop delay over the limit starts an overload that lasts the hold time after the last bad sample', () => {
    const { m, changes, at } = monitor();
    m.observe({ delayMs: 100, rssBytes: 0 });
    expect(m.overloaded).toBe(false);
    at(500);
    m.observe({ delayMs: 800, rssBytes: 0 });
    expect(changes).toEqual([['event_loop']]);
    at(3000);
    m.observe({ delayMs: 600, rssBytes: 0 });
    at(7000);
    m.observe({ delayMs: 10, rssBytes: 0 });
    expect(m.overloaded).toBe(true);
    at(8000);
    m.observe({ delayMs: 10, rssBytes: 0 });
    expect(m.overloaded).toBe(false);
    expect(changes).toEqual([['event_loop'], []]);
  });

  it('with enterWithinMs, one bad sample is not an overload; a second one within that time is', () => {
    const { m, at } = monitor({ enterWithinMs: 2000 });
    m.observe({ delayMs: 900, rssBytes: 0 });
    at(500);
    m.observe({ delayMs: 10, rssBytes: 0 });
    at(2500);
    m.observe({ delayMs: 900, rssBytes: 0 });
    expect(m.overloaded).toBe(false);
    at(3000);
    m.observe({ delayMs: 10, rssBytes: 0 });
    at(4000);
    m.observe({ delayMs: 900, rssBytes: 0 });
    expect([...m.active]).toEqual(['event_loop']);
    // once on, a single bad sample keeps it on
    at(6000);
    m.observe({ delayMs: 900, rssBytes: 0 });
    at(10_000);
    m.observe({ delayMs: 10, rssBytes: 0 });
    expect(m.overloaded).toBe(true);
  });

  it('memory clears only below 90% of its limit, so it does not flap at the threshold', () => {
    const { m, changes, at } = monitor({ holdMs: 0 });
    m.observe({ delayMs: 0, rssBytes: 1001 });
    expect([...m.active]).toEqual(['memory']);
    at(1);
    m.observe({ delayMs: 0, rssBytes: 950 });
    expect(m.overloaded).toBe(true);
    at(2);
    m.observe({ delayMs: 0, rssBytes: 899 });
    expect(m.overloaded).toBe(false);
    expect(changes).toEqual([['memory'], []]);
  });

  it('reports both causes, and neither when the limits are 0', () => {
    const both = monitor();
    both.m.observe({ delayMs: 900, rssBytes: 2000 });
    expect([...both.m.active].sort()).toEqual(['event_loop', 'memory']);
    const off = monitor({ maxDelayMs: 0, maxMemoryBytes: 0 });
    off.m.observe({ delayMs: 1e9, rssBytes: 1e12 });
    expect(off.m.overloaded).toBe(false);
    expect(off.changes).toEqual([]);
  });

  it('the process sampler reads a real delay and resident set', async () => {
    const load = new ProcessLoad({ busyMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const busyUntil = performance.now() + 150;
    while (performance.now() < busyUntil);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const sample = load.sample();
    load.close();
    expect(sample.delayMs).toBeGreaterThan(100);
    expect(sample.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
  });
});

describe('the meter\'s beat at rest', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A meter on fake timers; `stall(ms)` makes the clock jump as a stalled loop sees it. */
  function paced(working: () => boolean) {
    vi.useFakeTimers({ now: 0 });
    let stalled = 0;
    const load = new ProcessLoad({ busyMs: 20, restMs: 1000, restAfterMs: 2000, working, now: () => Date.now() + stalled });
    const runs: number[] = [];
    load.every(500, () => runs.push(Date.now() + stalled));
    return { load, runs, stall: (ms: number) => (stalled += ms) };
  }

  it('beats every 20 ms while the thread has work, running a task at its period', () => {
    const { load, runs } = paced(() => true);
    vi.advanceTimersByTime(5000);
    expect(load.resting).toBe(false);
    expect(runs).toEqual([500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]);
    load.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('without work it rests after restAfterMs: one timer, one beat a second, every task at each beat', () => {
    const { load, runs } = paced(() => false);
    vi.advanceTimersByTime(1999);
    expect(load.resting).toBe(false);
    vi.advanceTimersByTime(1);
    expect(load.resting).toBe(true);
    expect(load.beatMs).toBe(1000);
    runs.length = 0;
    vi.advanceTimersByTime(5000);
    expect(runs).toEqual([3000, 4000, 5000, 6000, 7000]);
    expect(vi.getTimerCount()).toBe(1);
    load.close();
  });

  it('an upgrade at rest brings the full rate back at once; the time at rest is not counted as delay, a late beat is', () => {
    let work = false;
    const { load, runs, stall } = paced(() => work);
    vi.advanceTimersByTime(7300);
    expect(load.resting).toBe(true);
    load.own();
    load.wake();
    expect(load.resting).toBe(false);
    expect(load.own()).toBe(0); // 300 ms into a one-second beat: nothing is late
    runs.length = 0;
    vi.advanceTimersByTime(500);
    expect(runs).toEqual([7500]);
    // Still without work, it rests again restAfterMs after the wake; an upgrade meanwhile keeps it awake.
    vi.advanceTimersByTime(1400);
    load.wake();
    vi.advanceTimersByTime(1990);
    expect(load.resting).toBe(false);
    vi.advanceTimersByTime(40);
    expect(load.resting).toBe(true);
    // A connection (work) wakes it at the next beat at rest.
    work = true;
    vi.advanceTimersByTime(1000);
    expect(load.resting).toBe(false);
    work = false;
    // A beat at rest that comes late because the loop stalled counts as delay.
    vi.advanceTimersByTime(3000);
    expect(load.resting).toBe(true);
    load.own();
    stall(700);
    vi.advanceTimersByTime(1000);
    expect(load.own()).toBe(700);
    load.close();
  });
});
