// How many uWS threads `server.workers` means on this machine: `auto` is the CPUs this process may use, which in a
// container is what its CPU limit (the cgroup v2 quota) allows, not the host's core count.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Most threads server.workers may ask for. */
export const MAX_WORKERS = 64;

/** The thread count and where it came from, for the startup log. */
export interface WorkerCount {
  readonly count: number;
  readonly why: string;
}

export interface CpuReadings {
  /** CPUs the scheduler lets this process run on (os.availableParallelism()). */
  readonly parallelism: number;
  /** The cgroup v2 cpu.max line ("max 100000", "200000 100000"); null when there is none. */
  readonly cpuMax: string | null;
}

/** Reads this process's CPU allowance: its affinity and its cgroup's CPU quota. */
export function readCpus(cgroupFile = '/sys/fs/cgroup/cpu.max'): CpuReadings {
  let cpuMax: string | null = null;
  try {
    cpuMax = readFileSync(cgroupFile, 'utf8').trim();
  } catch {
    // not Linux, cgroup v1, or no CPU controller: no quota
  }
  return { parallelism: availableParallelism(), cpuMax };
}

/** CPUs a cgroup v2 quota allows, rounded up (a 1.5-CPU limit can keep 2 threads busy part of the time); null = no quota. */
export function quotaCpus(cpuMax: string | null): number | null {
  if (cpuMax === null) return null;
  const [quota, period] = cpuMax.split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return null;
  const q = Number(quota);
  const p = Number(period);
  if (!(q > 0) || !(p > 0)) return null;
  return Math.max(1, Math.ceil(q / p));
}

/** Resolves `server.workers`. A number is taken as given; `auto` is the smaller of affinity and quota. */
export function workerCount(setting: 'auto' | number, cpus: CpuReadings = readCpus()): WorkerCount {
  if (setting !== 'auto') return { count: setting, why: 'server.workers' };
  const quota = quotaCpus(cpus.cpuMax);
  const parallelism = Math.max(1, cpus.parallelism);
  if (quota !== null && quota < parallelism) return { count: Math.min(quota, MAX_WORKERS), why: `auto: cgroup CPU quota (${cpus.cpuMax ?? ''})` };
  return { count: Math.min(parallelism, MAX_WORKERS), why: `auto: ${parallelism} CPUs available` };
}
