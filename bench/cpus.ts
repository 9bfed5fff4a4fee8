// Which cores the servers and the load generator get, so neither measures the other's contention.
import { availableParallelism } from 'node:os';
import { run } from './exec.js';

export interface CpuPlan {
  readonly cores: number;
  /** `taskset -c` lists, or null when not pinning */
  readonly server: string | null;
  readonly loadgen: string | null;
  readonly loadgenThreads: number;
  /** clock ticks per second, to turn /proc CPU ticks into seconds */
  readonly clockTicks: number;
  readonly note: string;
}

/**
 * With two or more cores the server gets the last core and the load generator the rest (one thread
 * per core, at most 4): the server side is one event loop, so one core is what it can use.
 */
export async function planCpus(): Promise<CpuPlan> {
  const cores = availableParallelism();
  const ticks = await run('getconf', ['CLK_TCK']);
  const clockTicks = ticks.code === 0 ? Number(ticks.stdout.trim()) || 100 : 100;
  const taskset = await run('taskset', ['-c', '0', 'true']);
  if (cores < 2 || taskset.code !== 0) {
    const why = cores < 2 ? 'one core' : 'taskset missing';
    return { cores, server: null, loadgen: null, loadgenThreads: 1, clockTicks, note: `not pinned (${why}): server and load generator share cores` };
  }
  const last = cores - 1;
  const loadgen = last === 1 ? '0' : `0-${last - 1}`;
  return {
    cores,
    server: String(last),
    loadgen,
    loadgenThreads: Math.min(4, last),
    clockTicks,
    note: `server pinned to core ${last}, load generator to ${loadgen}`,
  };
}
