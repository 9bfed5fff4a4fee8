import { afterEach, describe, expect, it, vi } from 'vitest';
import { CapacityGate, GateState, connectionCap, type ConnectionCap } from '../../../src/capacity/gate.js';

describe('connection cap', () => {
  it('is the smaller of limits.max_connections and what the open-file limit allows, named after it', () => {
    expect(connectionCap(0, 300)).toEqual({ max: 300, reason: 'file_limit' });
    expect(connectionCap(100, 300)).toEqual({ max: 100, reason: 'max_connections' });
    expect(connectionCap(500, 300)).toEqual({ max: 300, reason: 'file_limit' });
    expect(connectionCap(100, null)).toEqual({ max: 100, reason: 'max_connections' });
    expect(connectionCap(0, null)).toEqual({ max: Infinity, reason: 'max_connections' });
  });
});

/** A gate for thread `thread` of `threads`, on shared state of its own unless `buffer` is given. */
function gateOn(cap: ConnectionCap | null, opts: { threads?: number; thread?: number; buffer?: SharedArrayBuffer; onFull?: () => void } = {}): CapacityGate {
  const buffer = opts.buffer ?? GateState.allocate(opts.threads ?? 1);
  return new CapacityGate(new GateState(buffer, opts.thread ?? 0), cap, 5, opts.onFull);
}

describe('capacity gate', () => {
  it('refuses at the cap with 503 under the cap’s reason, and admits below it', () => {
    const gate = gateOn({ max: 2, reason: 'file_limit' });
    expect(gate.take()).toBeNull();
    expect(gate.check()).toBeNull();
    expect(gate.take()).toBeNull();
    const refusal = gate.check();
    expect(refusal).toMatchObject({ ok: false, status: '503 Service Unavailable', reason: 'file_limit' });
    expect(gate.take()).toBe(refusal);
    expect(gate.open).toBe(2);
    gate.release();
    expect(gate.check()).toBeNull();
    expect(gate.checks).toBe(3);
  });

  it('refuses everything while overloaded, with Retry-After', () => {
    const gate = gateOn({ max: Infinity, reason: 'max_connections' });
    gate.overloaded = true;
    expect(gate.check()).toMatchObject({ reason: 'overloaded', headers: { 'Retry-After': '5' } });
    expect(gate.take()).toMatchObject({ reason: 'overloaded' });
    gate.overloaded = false;
    expect(gate.check()).toBeNull();
  });

  it('reports reaching the cap once per episode, not once per refusal', () => {
    const onFull = vi.fn();
    const gate = gateOn({ max: 1, reason: 'max_connections' }, { onFull });
    gate.take();
    gate.check();
    gate.check();
    expect(onFull).toHaveBeenCalledTimes(1);
    gate.release();
    gate.check();
    gate.take();
    gate.check();
    expect(onFull).toHaveBeenCalledTimes(2);
  });

  it('holds one cap, one count and one overload latch for every thread of the process', () => {
    const buffer = GateState.allocate(3);
    const main = gateOn({ max: 3, reason: 'max_connections' }, { buffer, threads: 3, thread: 0 });
    const second = gateOn(null, { buffer, thread: 1 });
    const third = gateOn(null, { buffer, thread: 2 });
    expect(second.cap).toEqual({ max: 3, reason: 'max_connections' });
    expect([main.take(), second.take(), second.take()]).toEqual([null, null, null]);
    expect(third.take()).toMatchObject({ reason: 'max_connections' });
    const state = new GateState(buffer, 0);
    expect([state.open, state.openOn(0), state.openOn(1), state.openOn(2)]).toEqual([3, 1, 2, 0]);
    second.release();
    expect(third.take()).toBeNull();
    expect([state.openOn(1), state.openOn(2)]).toEqual([1, 1]);
    main.cap = { max: 2, reason: 'max_connections' };
    expect(third.check()).toMatchObject({ reason: 'max_connections' });
    main.overloaded = true;
    expect(third.overloaded).toBe(true);
  });

  it('tells every thread’s gate at once that the process is draining', () => {
    const buffer = GateState.allocate(2);
    const worker = gateOn(null, { buffer, threads: 2, thread: 1 });
    expect(worker.draining).toBe(false);
    new GateState(buffer, 0).drain();
    expect(worker.draining).toBe(true);
  });
});

describe('event-loop delay across threads', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands the main thread the worst delay a worker reported since the last read, and flags a worker whose report is overdue', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const buffer = GateState.allocate(3);
    const main = new GateState(buffer, 0);
    const one = new GateState(buffer, 1);
    const two = new GateState(buffer, 2);
    one.noteDelay(120, 50);
    one.noteDelay(30, 50); // lower: the worst stays
    two.noteDelay(5, 50);
    expect(main.othersDelayMs()).toBe(120);
    expect(main.othersDelayMs()).toBe(0); // read once
    // Worker 2 is stuck: it cannot report, and its next report was due 50 ms after the last.
    vi.advanceTimersByTime(900);
    one.noteDelay(0, 50);
    expect(main.othersDelayMs()).toBe(850);
    // A worker that is ending is no longer watched.
    two.retire();
    expect(main.othersDelayMs()).toBe(0);
  });

  it('a worker at rest, which said its next report comes in a second, is not late before then', () => {
    vi.useFakeTimers({ now: 2 ** 31 - 300 }); // the folded clock wraps around meanwhile
    const buffer = GateState.allocate(2);
    const main = new GateState(buffer, 0);
    const worker = new GateState(buffer, 1);
    worker.noteDelay(0, 1000);
    vi.advanceTimersByTime(900);
    expect(main.othersDelayMs()).toBe(0);
    vi.advanceTimersByTime(400);
    expect(main.othersDelayMs()).toBe(300);
    // Awake again: it reports at full rate.
    worker.noteDelay(0, 70);
    expect(main.othersDelayMs()).toBe(0);
  });
});
