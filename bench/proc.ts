// Server-side measurements from /proc: CPU time and resident memory of a process by PID (Linux only).
import { readFileSync } from 'node:fs';

/**
 * utime + stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat). The command name
 * field can contain spaces, so fields are counted from the closing parenthesis.
 */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are indexes 11 and 12.
  return Number(fields[11]) + Number(fields[12]);
}

/** VmRSS of a process in KiB. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

export function sum(pids: readonly number[], read: (pid: number) => number): number {
  return pids.reduce((total, pid) => total + read(pid), 0);
}

export interface MachineTicks {
  /** user + nice + system over every core: what processes ran */
  readonly processes: number;
  /** irq + softirq: on loopback this includes TCP work charged to no process */
  readonly interrupts: number;
  /** time the hypervisor ran something else while a vCPU wanted to run */
  readonly steal: number;
}

/** Clock ticks of the whole machine from the first line of /proc/stat. */
export function machineTicks(): MachineTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...
  const n = line.trim().split(/\s+/).slice(1).map((v) => Number(v) || 0);
  const at = (i: number): number => n[i] ?? 0;
  return { processes: at(0) + at(1) + at(2), interrupts: at(5) + at(6), steal: at(7) };
}
