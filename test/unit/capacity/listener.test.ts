import { describe, expect, it, vi } from 'vitest';
import { FileTable, type FileOps } from '../../../src/capacity/files.js';
import { ListenerGuard } from '../../../src/capacity/listener.js';
import { createLogger } from '../../../src/logger.js';

/** A table of `size` descriptors whose use the test sets; opens beyond it fail with EMFILE. */
function fakeTable(size: number) {
  const state = { used: 0 };
  const ops: FileOps = {
    read: () => '',
    list: () => [],
    open: () => {
      if (state.used >= size) throw Object.assign(new Error('EMFILE'), { code: 'EMFILE' });
      return state.used++;
    },
    close: () => {
      state.used--;
    },
  };
  return { files: new FileTable(ops), state };
}

function guard(size: number, resume: () => Promise<boolean> = async () => true) {
  const { files, state } = fakeTable(size);
  const listener = { pause: vi.fn(), resume: vi.fn(resume) };
  const blocked = new Map<string, string>();
  const readiness = { block: (n: string, why: string) => blocked.set(n, why), unblock: (n: string) => blocked.delete(n) };
  let answered = 0;
  let t = 0;
  const g = new ListenerGuard({
    files,
    listener,
    readiness,
    logger: createLogger('silent'),
    ballast: 4,
    resumeFree: 10,
    limit: size,
    answered: () => answered,
    stuckMs: 1000,
    now: () => t,
  });
  /** One probe, `ms` after the previous one. */
  const probe = (ms = 1000): Promise<void> => {
    t += ms;
    return g.check();
  };
  return { g, state, listener, blocked, answer: () => answered++, probe };
}

describe('listener guard', () => {
  it('holds a ballast while accepting', () => {
    const { state } = guard(100);
    expect(state.used).toBe(4);
  });

  it('closes the listener when the table stays full for stuckMs while no upgrade is answered, and gives the ballast back', async () => {
    const { g, state, listener, blocked, answer, probe } = guard(100);
    state.used = 100;
    await probe();
    answer();
    await probe();
    await probe(500);
    expect(listener.pause).not.toHaveBeenCalled();
    await probe(500);
    expect(listener.pause).toHaveBeenCalledTimes(1);
    expect(g.accepting).toBe(false);
    expect(g.pauses).toBe(1);
    expect(state.used).toBe(96);
    expect(blocked.get('listener')).toContain('open-file limit (100) reached');
  });

  it('listens again only once the ballast and the hysteresis are free, and takes the ballast back', async () => {
    const { g, state, listener, blocked, probe } = guard(100);
    state.used = 100;
    await probe();
    await probe();
    state.used = 90;
    await g.check();
    expect(listener.resume).not.toHaveBeenCalled();
    state.used = 86;
    await g.check();
    expect(listener.resume).toHaveBeenCalledTimes(1);
    expect(g.accepting).toBe(true);
    expect(state.used).toBe(90);
    expect(blocked.size).toBe(0);
  });

  it('keeps trying when the port was taken while the listener was closed, and says so in /readyz', async () => {
    let free = false;
    const { g, state, listener, blocked, probe } = guard(100, async () => free);
    state.used = 100;
    await probe();
    await probe();
    state.used = 50;
    await g.check();
    expect(g.accepting).toBe(false);
    expect(blocked.get('listener')).toContain('port was taken');
    expect(state.used).toBe(50);
    free = true;
    await g.check();
    expect(listener.resume).toHaveBeenCalledTimes(2);
    expect(g.accepting).toBe(true);
    expect(blocked.size).toBe(0);
  });

  it('close gives the ballast back and is idempotent', () => {
    const { g, state } = guard(100);
    g.close();
    g.close();
    expect(state.used).toBe(0);
  });
});
