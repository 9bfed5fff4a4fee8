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
 * With more cores than the server asks for, the server gets the last `serverCores` cores (default 1: one relay thread,
 * one event loop) and the load generator the rest (one thread per core, at most 8). --server-cpus N gives a relay
 * with server.workers N (or auto) its cores: on 16 cores, `--server-cpus 4` pins the server to 12-15 and the load
 * generator to 0-11.
 */
export async function planCpus(serverCores = 1): Promise<CpuPlan> {
  const cores = availableParallelism();
  const ticks = await run('getconf', ['CLK_TCK']);
  const clockTicks = ticks.code === 0 ? Number(ticks.stdout.trim()) || 100 : 100;
  const taskset = await run('taskset', ['-c', '0', 'true']);
  if (cores <= serverCores || taskset.code !== 0) {
    const why = taskset.code !== 0 ? 'taskset missing' : cores < 2 ? 'one core' : `${cores} cores, ${serverCores} asked for the server`;
    return { cores, server: null, loadgen: null, loadgenThreads: 1, clockTicks, note: `not pinned (${why}): server and load generator share cores` };
  }
  const first = cores - serverCores;
  const range = (from: number, to: number): string => (from === to ? String(from) : `${from}-${to}`);
  const server = range(first, cores - 1);
  const loadgen = range(0, first - 1);
  return {
    cores,
    server,
    loadgen,
    loadgenThreads: Math.min(8, first),
    clockTicks,
    note: `server pinned to core${serverCores > 1 ? 's' : ''} ${server}, load generator to ${loadgen}`,
  };
}
