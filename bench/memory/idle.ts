// Idle footprint: the RSS of a relay no client has reached, against bare uWS (the `uws-raw` peer), at fixed times
// after start. Each round starts every variant fresh, one at a time: the relay as the bench runs it (its start
// command, config/relay.yaml, loopback and free ports through RELAY_* variables) with one uWS thread and with
// `auto`, and uws-raw. Reported per variant and time: the median VmRSS over rounds with its range, and at the last
// time the median split into anonymous memory (private: V8's heaps, malloc) and file-backed pages (the node binary's
// code and data, shared with every node process). README, "Memory", has a run and what the numbers are made of.
//   npx tsx bench/memory/idle.ts [--rounds 3] [--at 2,20] [--relay-node-flags "--optimize-for-size"]
// Unpinned: `auto` gets one uWS thread per CPU this process may use.
import { readFileSync } from 'node:fs';
import { uwsRaw } from '../peers/node-peers.js';
import { startRelay } from '../peers/relay.js';
import type { StartOptions } from '../peers/types.js';
import { rssKiB } from '../proc.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const rounds = Number(flag('rounds', '3'));
/** Seconds after the server printed its listening line at which its RSS is read. */
const atS = flag('at', '2,20').split(',').map(Number);
const nodeFlags = flag('relay-node-flags', '').split(' ').filter((f) => f !== '');

const mib = (kib: number): number => Math.round(kib / 102.4) / 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory of `pid` (KiB): anonymous (private) and file-backed. */
function rssSplit(pid: number): { anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { anon: field('Anonymous'), file: field('Rss') - field('Anonymous') };
}

interface Started {
  readonly pid: number;
  stop(): Promise<void>;
}

const options: StartOptions = { cpus: null, profileDir: null, rooms: false, relay: { nodeFlags, env: {} } };
const VARIANTS: readonly { readonly name: string; readonly start: () => Promise<Started> }[] = [
  { name: 'relay (workers 1)', start: () => startRelay('relay-w1', options, { RELAY_SERVER__WORKERS: '1' }) },
  { name: 'relay (workers auto)', start: () => startRelay('relay', options) },
  {
    name: 'uws-raw',
    start: async () => {
      const peer = await uwsRaw.start(options);
      return { pid: peer.pids[0] as number, stop: peer.close };
    },
  },
];

/** Per variant: RSS (KiB) at each time, one entry per round; the split at the last time. */
const rss = new Map<string, number[][]>();
const split = new Map<string, { anon: number; file: number }[]>();
for (let round = 0; round < rounds; round++) {
  for (const variant of VARIANTS) {
    const server = await variant.start();
    const t0 = performance.now();
    const readings: number[] = [];
    for (const s of atS) {
      const wait = t0 + s * 1000 - performance.now();
      if (wait > 0) await sleep(wait);
      readings.push(rssKiB(server.pid));
    }
    const parts = rssSplit(server.pid);
    await server.stop();
    rss.set(variant.name, [...(rss.get(variant.name) ?? []), readings]);
    split.set(variant.name, [...(split.get(variant.name) ?? []), parts]);
    console.error(`round ${round + 1}/${rounds} ${variant.name}: ${readings.map(mib).join(' / ')} MiB`);
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
console.log(`idle RSS, MiB, median [min-max] over ${rounds} rounds, at ${atS.join(' / ')} s after listening${nodeFlags.length > 0 ? `; relay node flags ${nodeFlags.join(' ')}` : ''}`);
for (const variant of VARIANTS) {
  const runs = rss.get(variant.name) ?? [];
  const cells = atS.map((_, i) => {
    const at = runs.map((r) => r[i] as number);
    return `${mib(median(at))} [${mib(Math.min(...at))}-${mib(Math.max(...at))}]`;
  });
  const parts = split.get(variant.name) ?? [];
  const anon = mib(median(parts.map((p) => p.anon)));
  const file = mib(median(parts.map((p) => p.file)));
  console.log(`  ${variant.name.padEnd(22)} ${cells.join(' / ')}   at ${atS[atS.length - 1]} s: anonymous ${anon}, file-backed ${file}`);
}
process.exit(0);
