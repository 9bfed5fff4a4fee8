// Every process the bench starts, so an interrupted run can stop them by PID instead of orphaning
// a server that keeps its port and its core.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

/** Remembers `child` until it exits. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Sends SIGKILL to every tracked process still running; used only when the bench itself is stopped. */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}
