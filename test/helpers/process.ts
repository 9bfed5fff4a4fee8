// What a child process costs: its CPU time from /proc (Linux), to tell a spinning event loop from an idle one.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | null = null;

/** User + system CPU time the process `pid` has used so far (seconds). Linux only. */
export function cpuSeconds(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  // Fields after the command name, which is in parentheses and may contain spaces: utime and stime are 14 and 15.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Runs `during` and returns the share of one core the process `pid` used meanwhile (0..1+), with the wall time. */
export async function cpuShare(pid: number, during: () => Promise<void>): Promise<{ share: number; cpuS: number; wallS: number }> {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await during();
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(pid) - cpu0;
  return { share: cpuS / wallS, cpuS, wallS };
}
