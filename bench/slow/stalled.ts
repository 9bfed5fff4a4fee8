// The slow-consumer scenario: N clients that complete the handshake and never read (or, with --read, read
// everything), beside one healthy reader, while one publisher sends PAYLOAD bytes RATE times a second. For each
// peer: the healthy reader's latency (from the intended send time) and loss, the server's peak RSS, and how long
// until the server had closed the stalled connections (its ESTABLISHED sockets on the port, from `ss`).
// Each peer is started fresh, pinned like in the suite. Run with the soft fd limit raised:
//   bash -c 'ulimit -n 20000 && npx tsx bench/slow/stalled.ts --stalled 1000 [--read] [--seconds 15]
//            [--peers relay,uws-raw,ws,gorilla] [--relay-env RELAY_RELAY__MAX_STALL_S=0 ...]'
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { selectPeers } from '../peers/catalog.js';
import { startRelay } from '../peers/relay.js';
import type { PeerInstance } from '../peers/types.js';
import { rssKiB, sum } from '../proc.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const stalled = Number(flag('stalled', '1000'));
const seconds = Number(flag('seconds', '15'));
const rate = Number(flag('rate', '50'));
const payload = Number(flag('payload', String(16 * 1024)));
const reading = args.includes('--read');
const relayEnv = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === '--relay-env' ? [a.split('=') as [string, string]] : [])));
const peers = selectPeers(flag('peers', 'relay,uws-raw,ws,gorilla'));
const cpus = flag('cpus', '1');

/** Server-side established TCP connections on `port`. */
function established(port: number): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `sport = :${port}`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '').length;
}

async function trial(name: string): Promise<Record<string, unknown>> {
  const peer = peers.find((p) => p.name === name)!;
  const why = await peer.unavailable();
  if (why !== null) return { peer: name, skipped: why };
  const options = { cpus, profileDir: null, rooms: false };
  let instance: PeerInstance;
  if (name === 'relay' && Object.keys(relayEnv).length > 0) {
    const server = await startRelay('relay', options, relayEnv);
    instance = { urls: [`ws://127.0.0.1:${server.port}/`], pids: [server.pid], close: () => server.stop() };
  } else {
    instance = await peer.start(options);
  }
  const url = instance.urls[0]!;
  const port = Number(new URL(url).port);
  const holders = spawn(process.execPath, [fileURLToPath(new URL('holders.mjs', import.meta.url)), String(port), String(stalled), reading ? 'read' : 'stall'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let held = '';
  holders.stdout.setEncoding('utf8').on('data', (d: string) => (held += d));
  while (!held.includes('ready')) await once(holders.stdout, 'data');
  const open = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  const reader = await open();
  const publisher = await open();
  publisher.on('message', () => {});
  const latencies: number[] = [];
  let readerClosed: number | null = null;
  reader.on('message', (data: Buffer) => {
    if (data.length === payload) latencies.push(performance.now() - data.readDoubleLE(0));
  });
  reader.on('close', (code) => (readerClosed = code));
  // gorilla registers clients asynchronously: wait until the reader gets a probe before measuring.
  const probe = Buffer.alloc(8);
  for (let got = false; !got; ) {
    publisher.send(probe);
    got = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      reader.once('message', () => (clearTimeout(timer), resolve(true)));
    });
  }

  const pids = instance.pids;
  const baselineKiB = sum(pids, rssKiB);
  let peakKiB = baselineKiB;
  const t0 = performance.now();
  let allCutAt: number | null = null;
  const timer = setInterval(() => {
    peakKiB = Math.max(peakKiB, sum(pids, rssKiB));
    if (allCutAt === null && !reading && established(port) <= 2) allCutAt = performance.now() - t0;
  }, 50);
  const total = seconds * rate;
  const message = Buffer.alloc(payload, 1);
  for (let k = 0; k < total; k++) {
    const due = t0 + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    message.writeDoubleLE(due, 0);
    publisher.send(message);
  }
  const deadline = performance.now() + 5000;
  while (latencies.length < total && performance.now() < deadline && readerClosed === null) await new Promise((r) => setTimeout(r, 20));
  clearInterval(timer);
  const endKiB = sum(pids, rssKiB);
  const stillOpen = established(port) - 2;
  const sorted = latencies.slice().sort((a, b) => a - b);
  const at = (q: number): number => +(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN).toFixed(1);
  holders.stdin.end();
  reader.close();
  publisher.close();
  await instance.close();
  return {
    peer: name,
    stalled,
    mode: reading ? 'read' : 'stall',
    sent: total,
    lost: total - latencies.length,
    reader_closed: readerClosed,
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    max_ms: +(sorted.at(-1) ?? NaN).toFixed(1),
    baseline_rss_mib: Math.round(baselineKiB / 1024),
    peak_rss_mib: Math.round(peakKiB / 1024),
    end_rss_mib: Math.round(endKiB / 1024),
    all_cut_s: allCutAt === null ? null : +(allCutAt / 1000).toFixed(2),
    still_open: Math.max(0, stillOpen),
  };
}

for (const peer of peers) console.log(JSON.stringify(await trial(peer.name)));
process.exit(0);
