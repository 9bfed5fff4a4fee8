// Idle footprint: the RSS of a relay no client has reached, against bare uWS (the `uws-raw` peer), at fixed times
// after start. Each round starts every variant fresh, one at a time: the relay as the bench runs it (its start
// command, config/relay.yaml, loopback and free ports through RELAY_* variables) with one uWS thread and with
// `auto`, and uws-raw. Reported per variant and time: the median VmRSS over rounds with its range, split into
// anonymous memory (private: V8's heaps, malloc) and file-backed pages (the node binary's code and data, shared with
// every node process); and what the process ran at rest between the first and the last time: CPU time (utime +
// stime) and voluntary context switches over all its threads (each is a thread going to sleep: about one per
// wake-up). README, "Memory", has a run and what the numbers are made of.
//   npx tsx bench/memory/idle.ts [--rounds 3] [--at 2,20,120] [--variants w1,auto,uws-raw] [--relay-node-flags "--optimize-for-size"]
//     [--root DIR]   (another build of the relay: DIR/dist/cli.js with DIR/config/relay.yaml)
// Unpinned: `auto` gets one uWS thread per CPU this process may use.
import { readdirSync, readFileSync } from 'node:fs';
import { uwsRaw } from '../peers/node-peers.js';
import { ROOT_DIR } from '../paths.js';
import { startRelay } from '../peers/relay.js';
import type { StartOptions } from '../peers/types.js';
import { cpuTicks } from '../proc.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const rounds = Number(flag('rounds', '3'));
/** Seconds after the server printed its listening line at which its RSS is read. */
const atS = flag('at', '2,20,120').split(',').map(Number);
const only = flag('variants', 'w1,auto,uws-raw').split(',');
const nodeFlags = flag('relay-node-flags', '').split(' ').filter((f) => f !== '');
const root = flag('root', ROOT_DIR);

const mib = (kib: number): number => Math.round(kib / 102.4) / 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory of `pid` (KiB): anonymous (private) and file-backed. */
function rssSplit(pid: number): { anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { anon: field('Anonymous'), file: field('Rss') - field('Anonymous') };
}

/** Voluntary context switches of every thread of `pid`: a thread that waits for its next event switches once. */
function sleeps(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
    total += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return total;
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on Linux). */
const TICKS_PER_S = 100;

interface Started {
  readonly pid: number;
  stop(): Promise<void>;
}

const options: StartOptions = { cpus: null, profileDir: null, rooms: false, relay: { nodeFlags, env: {} } };
const VARIANTS: readonly { readonly key: string; readonly name: string; readonly start: () => Promise<Started> }[] = [
  { key: 'w1', name: 'relay (workers 1)', start: () => startRelay('relay-w1', options, { RELAY_SERVER__WORKERS: '1' }, root) },
  { key: 'auto', name: 'relay (workers auto)', start: () => startRelay('relay', options, {}, root) },
  {
    key: 'uws-raw',
    name: 'uws-raw',
    start: async () => {
      const peer = await uwsRaw.start(options);
      return { pid: peer.pids[0] as number, stop: peer.close };
    },
  },
].filter((v) => only.includes(v.key));

/** Per variant, one entry per round: anonymous and file-backed RSS (KiB) at each time; CPU (ms) and sleeps from the first time to the last. */
interface Round {
  readonly at: { anon: number; file: number }[];
  readonly cpuMs: number;
  readonly sleeps: number;
}
const runs = new Map<string, Round[]>();
for (let round = 0; round < rounds; round++) {
  for (const variant of VARIANTS) {
    const server = await variant.start();
    const t0 = performance.now();
    const at: { anon: number; file: number }[] = [];
    let first = { ticks: 0, sleeps: 0 };
    for (const s of atS) {
      const wait = t0 + s * 1000 - performance.now();
      if (wait > 0) await sleep(wait);
      at.push(rssSplit(server.pid));
      if (at.length === 1) first = { ticks: cpuTicks(server.pid), sleeps: sleeps(server.pid) };
    }
    const cpuMs = ((cpuTicks(server.pid) - first.ticks) * 1000) / TICKS_PER_S;
    const slept = sleeps(server.pid) - first.sleeps;
    await server.stop();
    runs.set(variant.name, [...(runs.get(variant.name) ?? []), { at, cpuMs, sleeps: slept }]);
    console.error(`round ${round + 1}/${rounds} ${variant.name}: ${at.map((p) => mib(p.anon + p.file)).join(' / ')} MiB, ${cpuMs} ms CPU, ${slept} sleeps`);
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const span = (atS[atS.length - 1] as number) - (atS[0] as number);
console.log(`idle RSS, MiB, median [min-max] over ${rounds} rounds, at ${atS.join(' / ')} s after listening (anonymous + file-backed); CPU and sleeps from ${atS[0]} to ${atS[atS.length - 1]} s${root === ROOT_DIR ? '' : `; relay from ${root}`}${nodeFlags.length > 0 ? `; relay node flags ${nodeFlags.join(' ')}` : ''}`);
for (const variant of VARIANTS) {
  const rs = runs.get(variant.name) ?? [];
  const cells = atS.map((_, i) => {
    const total = rs.map((r) => (r.at[i]?.anon ?? 0) + (r.at[i]?.file ?? 0));
    const anon = mib(median(rs.map((r) => r.at[i]?.anon ?? 0)));
    const file = mib(median(rs.map((r) => r.at[i]?.file ?? 0)));
    return `${mib(median(total))} [${mib(Math.min(...total))}-${mib(Math.max(...total))}] (${anon} + ${file})`;
  });
  const cpu = median(rs.map((r) => r.cpuMs));
  const slept = median(rs.map((r) => r.sleeps));
  console.log(`  ${variant.name.padEnd(22)} ${cells.join(' / ')}   CPU ${cpu} ms (${Math.round((cpu / span) * 100) / 100} ms/s), ${Math.round((slept / span) * 10) / 10} sleeps/s`);
}
process.exit(0);
