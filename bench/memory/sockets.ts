// What a server keeps in V8's heap per idle connection: heap snapshots of one fresh server (the relay with one uWS
// thread as the bench starts it, or bare uWS) with no client and with N idle clients held open
// (bench/slow/holders.mjs), grouped by object kind (constructor, or string contents, or V8's internal arrays), and
// the difference divided by N. A snapshot collects garbage first, so what it shows is what the sockets retain.
// With --path, rooms are on (relay.rooms, uws-raw's rooms mode) and every client asks for that path: one room. With
// --root, the relay measured is the build of another checkout (to compare two commits). With --publish KIB, the
// clients read and answer pings, and one more client publishes that many 1 KiB messages before the second snapshot
// (what traffic leaves in each socket's state: the relay's drains, read receipts, clock readings).
//   npx tsx bench/memory/sockets.ts [--connections 5000,18000] [--peers relay,uws-raw] [--top 16] [--path /lobby]
//     [--root ../other-checkout] [--publish 512]
// README, "Memory", has a run and what the groups are.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { uwsRaw } from '../peers/node-peers.js';
import { startRelay } from '../peers/relay.js';
import type { StartOptions } from '../peers/types.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HOLDERS = path.join(HERE, '..', 'slow', 'holders.mjs');

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const counts = flag('connections', '5000,18000').split(',').map(Number);
const peers = flag('peers', 'relay,uws-raw').split(',');
const top = Number(flag('top', '16'));
const roomPath = flag('path', '');
const root = flag('root', '');
const publishKiB = Number(flag('publish', '0'));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Server {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts `peer` writing heap snapshots into `dir` on SIGUSR2 (node's --heapsnapshot-signal, through NODE_OPTIONS). */
async function start(peer: string, dir: string): Promise<Server> {
  process.env.NODE_OPTIONS = `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
  const options: StartOptions = { cpus: null, profileDir: null, rooms: roomPath !== '', relay: { nodeFlags: [], env: {} } };
  try {
    if (peer === 'relay') {
      const env = { RELAY_SERVER__WORKERS: '1' };
      const s = await (root === '' ? startRelay('relay-w1', options, env) : startRelay('relay-w1', options, env, path.resolve(root)));
      return { pid: s.pid, port: s.port, stop: () => s.stop() };
    }
    if (peer === 'uws-raw') {
      const s = await uwsRaw.start(options);
      return { pid: s.pids[0] as number, port: Number(new URL(s.urls[0] as string).port), stop: s.close };
    }
  } finally {
    delete process.env.NODE_OPTIONS;
  }
  throw new Error(`unknown peer ${peer} (relay, uws-raw)`);
}

/** Signals `pid` and waits for the snapshot file it writes into `dir` to be complete; returns its path. */
async function snapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  let last = -1;
  while (Date.now() < deadline) {
    await sleep(500);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (file === undefined) continue;
    const full = path.join(dir, file);
    const size = statSync(full).size;
    // Written in one go on the main thread: complete once it stops growing and ends its JSON.
    if (size > 0 && size === last && readFileSync(full).subarray(-2).includes('}'.charCodeAt(0))) return full;
    last = size;
  }
  throw new Error(`no heap snapshot from ${pid} within 120 s`);
}

interface Group {
  count: number;
  bytes: number;
}

/** Self sizes by group: objects by constructor, strings by contents (shortened), the rest by V8's name. */
function groups(file: string): Map<string, Group> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, Group>();
  const { nodes, strings } = snap;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt] as number] as string;
    let name = strings[nodes[i + nameAt] as number] as string;
    if (type.includes('string')) name = JSON.stringify(name.length > 24 ? `${name.slice(0, 24)}...` : name);
    const key = `${type} ${name}`;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += nodes[i + sizeAt] as number;
    out.set(key, g);
  }
  return out;
}

/** Opens `count` idle connections to `port`; resolves once all are open, with a function that closes them. */
async function hold(port: number, count: number): Promise<() => Promise<void>> {
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'sh', process.execPath, HOLDERS, String(port), String(count), publishKiB > 0 ? 'read' : 'stall', '0', roomPath || '/'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = readline.createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`holders: ${count} connections not open within 120 s`)), 120_000);
    lines.on('line', (line) => {
      if (!line.startsWith('ready')) return;
      clearTimeout(timer);
      if (Number(line.split(' ')[1]) !== count) reject(new Error(`holders: ${line}, wanted ${count}`));
      else resolve();
    });
    child.once('exit', (code) => reject(new Error(`holders exited (${code})`)));
  });
  return async () => {
    child.stdin.end();
    await exited;
  };
}

/** Publishes `kib` 1 KiB messages to `port` from one more client, then waits 2 s for the sweeps and the pongs. */
async function publish(port: number, kib: number): Promise<void> {
  const client = new WebSocket(`ws://127.0.0.1:${port}${roomPath || '/'}`);
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const message = Buffer.alloc(1024);
  for (let i = 0; i < kib; i++) await new Promise<void>((resolve, reject) => client.send(message, (err) => (err ? reject(err) : resolve())));
  await sleep(2000);
  client.close();
  await new Promise((resolve) => client.once('close', resolve));
}

const total = (m: Map<string, Group>): number => [...m.values()].reduce((n, g) => n + g.bytes, 0);

for (const peer of peers) {
  for (const count of counts) {
    const dir = mkdtempSync(path.join(tmpdir(), 'relay-heap-'));
    const server = await start(peer, dir);
    try {
      const empty = groups(await snapshot(server.pid, dir));
      const release = await hold(server.port, count);
      if (publishKiB > 0) await publish(server.port, publishKiB);
      const full = groups(await snapshot(server.pid, dir));
      await release();
      const rows = [...new Set([...empty.keys(), ...full.keys()])].map((key) => {
        const a = empty.get(key) ?? { count: 0, bytes: 0 };
        const b = full.get(key) ?? { count: 0, bytes: 0 };
        return { key, count: (b.count - a.count) / count, bytes: (b.bytes - a.bytes) / count };
      });
      rows.sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes));
      const perSocket = (total(full) - total(empty)) / count;
      const what = `${count} ${publishKiB > 0 ? `connections with ${publishKiB} KiB published` : 'idle connections'}${roomPath === '' ? '' : ` in room ${roomPath}`}`;
      console.log(`${peer}, ${what}: ${perSocket.toFixed(1)} B of V8 heap per connection (${(total(empty) / 1048576).toFixed(1)} -> ${(total(full) / 1048576).toFixed(1)} MiB)`);
      for (const r of rows.slice(0, top)) console.log(`  ${r.bytes.toFixed(1).padStart(7)} B  ${r.count.toFixed(2).padStart(6)} objects  ${r.key}`);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
process.exit(0);
