// The capacity watches of a relay at rest: one beat a second on the main thread, back to full rate at an upgrade (on
// any thread), while a connection is open, and while the listener guard has a full descriptor table to watch.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildCapacity } from '../../../src/capacity/index.js';
import { FileTable, type FileOps } from '../../../src/capacity/files.js';
import { CapacityGate, GateState } from '../../../src/capacity/gate.js';
import { ProcessLoad } from '../../../src/capacity/load.js';
import { parseConfig } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/logger.js';

/** A descriptor table of 1,000 whose opens fail with EMFILE while `table.full`; `opens` counts every try. */
function table() {
  const state = { full: false, used: 0, opens: 0 };
  const ops: FileOps = {
    read: () => 'Max open files            1000                 1000                 files\n',
    list: () => [],
    open: () => {
      state.opens++;
      if (state.full) throw Object.assign(new Error('EMFILE'), { code: 'EMFILE' });
      return state.used++;
    },
    close: () => {
      state.used--;
    },
  };
  return { files: new FileTable(ops), state };
}

function capacityOn(threads: number) {
  vi.useFakeTimers({ now: 0 });
  const buffer = GateState.allocate(threads);
  const { files, state } = table();
  let load: ProcessLoad | null = null;
  const listener = { pause: vi.fn(), resume: vi.fn(async () => true) };
  const capacity = buildCapacity({
    limits: parseConfig({}).limits,
    logger: createLogger('silent'),
    registry: new Registry(),
    readiness: { block: () => {}, unblock: () => {} },
    state: new GateState(buffer, 0),
    files,
    memory: () => ({ bytes: 2 ** 34, source: 'physical' }),
    clock: () => Date.now(),
    load: (working) => (load = new ProcessLoad({ restMs: 1000, restAfterMs: 2000, working, now: () => Date.now() })),
  });
  capacity.start(listener);
  return { capacity, load: load as unknown as ProcessLoad, buffer, table: state, listener };
}

describe('capacity watches at rest', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rest without connections; an upgrade wakes them before the gate reads the overload latch; a connection keeps them awake', () => {
    const { capacity, load } = capacityOn(1);
    vi.advanceTimersByTime(1990);
    expect(load.resting).toBe(false);
    vi.advanceTimersByTime(20);
    expect(load.resting).toBe(true);
    expect(vi.getTimerCount()).toBe(1);

    const wake = vi.spyOn(load, 'wake');
    expect(capacity.gate.check()).toBeNull();
    expect(wake).toHaveBeenCalledTimes(1);
    expect(load.resting).toBe(false);
    expect(capacity.gate.take()).toBeNull();
    vi.advanceTimersByTime(10_000);
    expect(load.resting).toBe(false);
    capacity.gate.release();
    vi.advanceTimersByTime(2020);
    expect(load.resting).toBe(true);
    capacity.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an upgrade on another thread wakes the main thread at its next beat', () => {
    const { capacity, load, buffer } = capacityOn(2);
    vi.advanceTimersByTime(2020);
    expect(load.resting).toBe(true);
    const worker = new CapacityGate(new GateState(buffer, 1), null, 5);
    worker.check();
    vi.advanceTimersByTime(1000);
    expect(load.resting).toBe(false);
    capacity.close();
  });

  it('at rest the table is probed every 10 s unless the process spins; one found full is probed at full rate: the listener closes, and listens again once descriptors are free with no client', async () => {
    const { capacity, load, table: files, listener } = capacityOn(1);
    vi.advanceTimersByTime(2020);
    expect(load.resting).toBe(true);
    // A relay at rest uses next to no CPU (the fake clock runs far faster than the real one): one probe in 10 s.
    const opens = files.opens;
    vi.advanceTimersByTime(10_000);
    expect(files.opens - opens).toBe(1);
    files.full = true;
    // The next probe at rest finds it full; from there the probe runs every 100 ms, and the listener closes once the
    // table has stayed full for a second with no upgrade answered.
    await vi.advanceTimersByTimeAsync(11_000);
    expect(load.resting).toBe(false);
    await vi.advanceTimersByTimeAsync(1100);
    expect(load.resting).toBe(false);
    expect(listener.pause).toHaveBeenCalledTimes(1);
    // Closed, it stays awake however long it waits for descriptors.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(load.resting).toBe(false);
    files.full = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(listener.resume).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(2100);
    expect(load.resting).toBe(true);
    capacity.close();
  });
});
