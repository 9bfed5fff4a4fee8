import { describe, expect, it } from 'vitest';
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
    const load = new ProcessLoad(10);
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
