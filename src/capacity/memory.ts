// The memory this process may use: its cgroup's limit (v2, then v1), else physical memory.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

export type MemorySource = 'cgroup-v2' | 'cgroup-v1' | 'physical';

export interface MemoryLimit {
  readonly bytes: number;
  readonly source: MemorySource;
}

/** cgroup v1 reports "no limit" as a page-rounded 2^63; anything at or above 2^60 means unlimited. */
const V1_UNLIMITED = 2 ** 60;

/** The tightest of the cgroup limit and physical memory. `read` throws for a missing file. */
export function memoryLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8'), physical: number = totalmem()): MemoryLimit {
  const sources: [string, MemorySource][] = [
    ['/sys/fs/cgroup/memory.max', 'cgroup-v2'],
    ['/sys/fs/cgroup/memory/memory.limit_in_bytes', 'cgroup-v1'],
  ];
  for (const [path, source] of sources) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue;
    }
    if (!/^\d+$/.test(text)) continue;
    const bytes = Number(text);
    if (bytes > 0 && bytes < V1_UNLIMITED) return { bytes: Math.min(bytes, physical), source };
  }
  return { bytes: physical, source: 'physical' };
}
