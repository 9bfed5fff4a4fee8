import { describe, expect, it } from 'vitest';
import { fileBudget } from '../../../src/capacity/budget.js';
import { FileTable, parseOpenFileLimit, type FileOps } from '../../../src/capacity/files.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            400                  4096                 files
Max locked memory         8388608              8388608              bytes
`;

/** A descriptor table of `size` entries, `used` of them taken. */
function table(size: number, used: number): { ops: FileOps; open: () => number } {
  let taken = used;
  const ops: FileOps = {
    read: () => LIMITS,
    list: () => Array.from({ length: taken + 1 }, (_, i) => String(i)),
    open: () => {
      if (taken >= size) throw Object.assign(new Error('EMFILE'), { code: 'EMFILE' });
      return taken++;
    },
    close: () => {
      taken--;
    },
  };
  return { ops, open: () => taken };
}

describe('open-file limit', () => {
  it('reads the soft limit from /proc/self/limits', () => {
    expect(parseOpenFileLimit(LIMITS)).toBe(400);
    expect(parseOpenFileLimit(LIMITS.replace('400 ', 'unlimited '))).toBeNull();
    expect(parseOpenFileLimit('')).toBeNull();
  });

  it('is read from this process on Linux, and unknown where /proc is missing', () => {
    if (process.platform === 'linux') expect(new FileTable().limit()).toBeGreaterThan(0);
    const noProc: FileOps = { ...table(10, 0).ops, read: () => { throw new Error('ENOENT'); } };
    expect(new FileTable(noProc).limit()).toBeNull();
  });

  it('probes leave the table as they found it', () => {
    const t = table(10, 7);
    const files = new FileTable(t.ops);
    expect(files.used()).toBe(7);
    expect(files.freeAtLeast(3)).toBe(true);
    expect(files.freeAtLeast(4)).toBe(false);
    expect(files.full()).toBe(false);
    expect(t.open()).toBe(7);
    const held = files.reserve(5);
    expect(held).toHaveLength(3);
    expect(files.full()).toBe(true);
    files.release(held);
    expect(t.open()).toBe(7);
  });

  it('other open errors are not mistaken for a full table', () => {
    const ops: FileOps = { ...table(10, 0).ops, open: () => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); } };
    expect(() => new FileTable(ops).full()).toThrow('EACCES');
  });
});

describe('file budget', () => {
  it('keeps the baseline, the spare descriptors and a tenth for handshakes (32 to 1024) from the WebSockets', () => {
    expect(fileBudget(400, 23)).toEqual({ limit: 400, baseline: 23, spare: 32, handshakes: 40, maxConnections: 305 });
    expect(fileBudget(20_000, 23).maxConnections).toBe(20_000 - 23 - 32 - 1024);
    expect(fileBudget(1024, 23).maxConnections).toBe(1024 - 23 - 32 - 102);
    expect(fileBudget(200, 23).handshakes).toBe(32);
  });

  it('never derives less than one connection', () => {
    expect(fileBudget(64, 40).maxConnections).toBe(1);
  });
});
