// Which TCP ports a process is listening on, from /proc (Linux): its socket inodes matched against the kernel's
// table of listening sockets. Finds a listener whatever its port, so a check never depends on 9229 being free.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const LISTEN = '0A';

/** "address:port" (hex address as the kernel writes it, decimal port) of every TCP socket `pid` listens on. */
export function listeningSockets(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1] as string);
    } catch {
      // closed while we looked
    }
  }
  const out = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [local, , state] = [f[1], f[2], f[3]];
      const inode = f[9];
      if (local === undefined || state !== LISTEN || inode === undefined || !inodes.has(inode)) continue;
      const [address, port] = local.split(':');
      out.add(`${address}:${parseInt(port ?? '0', 16)}`);
    }
  }
  return out;
}
