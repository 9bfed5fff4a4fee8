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

/**
 * Busy clock ticks of the whole machine (every core, every process, plus interrupt and softirq time,
 * which on loopback includes part of the TCP work that no process is charged for).
 */
export function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const n = values.map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle (3) and iowait (4) is busy
  return n.slice(0, 8).reduce((total, v, i) => (i === 3 || i === 4 ? total : total + (v || 0)), 0);
}
