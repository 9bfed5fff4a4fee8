// The slow-consumer limits: the memory limit they derive from, their defaults, and their bounds.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/schema.js';
import { lingerMs, resolveLimits } from '../../src/relay/backpressure.js';
import { defaultBackpressureBudget, memoryLimit, type MemoryProbe } from '../../src/relay/memory.js';

const GiB = 1024 ** 3;

function probe(files: Record<string, string>, physical = 16 * GiB): MemoryProbe {
  return {
    read: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT ${path}`);
      return text;
    },
    totalmem: () => physical,
  };
}

describe('memory limit', () => {
  it('reads the own cgroup v2 memory.max', () => {
    const limit = memoryLimit(probe({ '/proc/self/cgroup': '0::/kubepods/pod1\n', '/sys/fs/cgroup/kubepods/pod1/memory.max': '536870912\n' }));
    expect(limit).toEqual({ bytes: 512 * 1024 ** 2, source: 'cgroup-v2' });
    expect(defaultBackpressureBudget(limit)).toBe(128 * 1024 ** 2);
  });

  it('in a container (cgroup namespace root) reads /sys/fs/cgroup/memory.max', () => {
    expect(memoryLimit(probe({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': '1073741824' }))).toEqual({ bytes: GiB, source: 'cgroup-v2' });
  });

  it('"max" means no limit: physical memory', () => {
    expect(memoryLimit(probe({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': 'max\n' }))).toEqual({ bytes: 16 * GiB, source: 'physical' });
  });

  it('reads cgroup v1, whose "unlimited" is a huge number', () => {
    expect(memoryLimit(probe({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '2147483648' }))).toEqual({ bytes: 2 * GiB, source: 'cgroup-v1' });
    expect(memoryLimit(probe({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' })).source).toBe('physical');
  });

  it('never above physical memory, and physical memory when nothing is readable', () => {
    expect(memoryLimit(probe({ '/sys/fs/cgroup/memory.max': String(64 * GiB) }, 8 * GiB)).bytes).toBe(8 * GiB);
    expect(memoryLimit(probe({}, 8 * GiB))).toEqual({ bytes: 8 * GiB, source: 'physical' });
  });
});

describe('limits', () => {
  it('defaults: soft limit half the hard one, stall 10 s, budget derived from memory', () => {
    const limits = resolveLimits(parseConfig({}).relay, () => 123);
    expect(limits).toEqual({ maxBytes: 1048576, softBytes: 524288, maxStallMs: 10_000, readTimeoutMs: 1000, budgetBytes: 123, lingerMs: 20_000 });
  });

  it('explicit values win, and the memory limit is not read then', () => {
    const relay = parseConfig({ relay: { soft_backpressure_bytes: 4096, max_stall_s: 0, max_total_backpressure_bytes: 1 << 20 } }).relay;
    expect(resolveLimits(relay, () => {
      throw new Error('read');
    })).toMatchObject({ softBytes: 4096, maxStallMs: 0, budgetBytes: 1 << 20 });
  });

  it('the soft limit must be below the hard one', () => {
    expect(() => parseConfig({ relay: { max_backpressure_bytes: 4096, soft_backpressure_bytes: 4096 } })).toThrow(/soft_backpressure_bytes/);
    expect(() => parseConfig({ relay: { max_total_backpressure_bytes: -1 } })).toThrow();
    expect(() => parseConfig({ relay: { max_stall_s: -1 } })).toThrow();
    // Under a tenth of a second, read receipts would end readers whose process merely paused.
    expect(() => parseConfig({ relay: { read_timeout_s: 0.01 } })).toThrow(/must be 0 \(off\) or between 0.1 and 60/);
    expect(parseConfig({ relay: { read_timeout_s: 0 } }).relay.read_timeout_s).toBe(0);
  });

  it('an ended socket may keep its queue for uWS close timeout: the ping margin plus the 4 s timer', () => {
    expect(lingerMs(120)).toBe(20_000);
    expect(lingerMs(16)).toBe(12_000);
    expect(lingerMs(8)).toBe(8_000);
    expect(lingerMs(0)).toBe(8_000);
  });
});
