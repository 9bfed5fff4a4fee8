// The memory this process may use (its cgroup's limit, else the machine's), from which the default total
// backpressure budget is derived. Pure apart from the injectable file reader.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/** Where a memory limit was read from. */
export type MemorySource = 'cgroup-v2' | 'cgroup-v1' | 'physical';

export interface MemoryLimit {
  readonly bytes: number;
  readonly source: MemorySource;
}

export interface MemoryProbe {
  /** Reads a file as text; throws when it does not exist. */
  readonly read: (path: string) => string;
  /** Physical memory (bytes). */
  readonly totalmem: () => number;
}

const defaultProbe: MemoryProbe = { read: (path) => readFileSync(path, 'utf8'), totalmem };

/** cgroup v1 reports "no limit" as a huge number (page-rounded 2^63); anything at or above 2^60 means unlimited. */
const V1_UNLIMITED = 2 ** 60;

/** Share of the memory limit the total backpressure budget defaults to. */
export const DEFAULT_BUDGET_FRACTION = 0.25;

/**
 * The memory limit that applies to this process: its cgroup v2 `memory.max` (own cgroup, then the root of the
 * container's cgroup namespace), else cgroup v1 `memory.limit_in_bytes`, else physical memory; never above
 * physical memory.
 */
export function memoryLimit(probe: MemoryProbe = defaultProbe): MemoryLimit {
  const physical = probe.totalmem();
  const candidates: [string, MemorySource][] = [];
  const own = ownCgroupV2(probe);
  if (own !== null) candidates.push([`/sys/fs/cgroup${own === '/' ? '' : own}/memory.max`, 'cgroup-v2']);
  candidates.push(['/sys/fs/cgroup/memory.max', 'cgroup-v2'], ['/sys/fs/cgroup/memory/memory.limit_in_bytes', 'cgroup-v1']);
  for (const [path, source] of candidates) {
    const bytes = readLimit(probe, path);
    if (bytes !== null && bytes < V1_UNLIMITED) return { bytes: Math.min(bytes, physical), source };
  }
  return { bytes: physical, source: 'physical' };
}

/** relay.max_total_backpressure_bytes when configured as 0: a quarter of the memory limit. */
export function defaultBackpressureBudget(limit: MemoryLimit): number {
  return Math.floor(limit.bytes * DEFAULT_BUDGET_FRACTION);
}

function ownCgroupV2(probe: MemoryProbe): string | null {
  try {
    const line = probe.read('/proc/self/cgroup').split('\n').find((l) => l.startsWith('0::'));
    return line === undefined ? null : line.slice(3).trim() || '/';
  } catch {
    return null;
  }
}

/** A limit file's value in bytes; null when absent, unreadable or "max". */
function readLimit(probe: MemoryProbe, path: string): number | null {
  let text: string;
  try {
    text = probe.read(path).trim();
  } catch {
    return null;
  }
  if (!/^\d+$/.test(text)) return null;
  const bytes = Number(text);
  return bytes > 0 ? bytes : null;
}
