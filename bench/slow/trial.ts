// One slow-consumer run: a fresh peer, N held connections that stop reading (holders.mjs, its own process), M
// healthy `ws` readers and one publisher in this process at a fixed rate. Latency is measured from each message's
// intended send time, so a server that stalls cannot hide it by also stalling the sender.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { track } from '../children.js';
import type { Peer, PeerInstance, RelayVariant } from '../peers/types.js';
import { cpuTicks, rssKiB, sum } from '../proc.js';
import type { SlowScenario } from '../scenarios.js';

const HOLDERS = fileURLToPath(new URL('holders.mjs', import.meta.url));

/** At most how long the held connections read at the end to find their close frame, and the healthy readers wait for stragglers (ms). */
const FINAL_READ_MS = 15_000;
const STRAGGLERS_MS = 5000;
/** Period of the RSS and established-connection samples (ms). */
const SAMPLE_MS = 50;

/** What the held (stalled) clients saw once they read again at the end; from holders.mjs. */
export interface HeldOutcome {
  readonly opened: number;
  /** close frames by code, e.g. { "4008": 1000 } */
  readonly close_frames: Readonly<Record<string, number>>;
  readonly closed_without_frame: number;
  /** of those closed without a close frame, how many by a reset */
  readonly reset: number;
  /** MiB they read in all once reading again */
  readonly mib_read: number;
  readonly still_open: number;
}

export interface SlowRun {
  readonly scenario: string;
  readonly peer: string;
  readonly round: number;
  readonly error: string | null;
  /** messages sent × healthy readers */
  readonly expected: number;
  readonly lost: number;
  /** healthy readers closed by the server during the run */
  readonly healthyClosed: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  readonly baselineRssMiB: number | null;
  readonly peakRssMiB: number | null;
  readonly endRssMiB: number | null;
  /** server CPU (user + system) during traffic, seconds */
  readonly serverCpuS: number | null;
  /** seconds from the first message until the server had closed (or half-closed) every stalled connection; null: it never did */
  readonly allCutS: number | null;
  readonly held: HeldOutcome | null;
}

export interface SlowTrialInput {
  readonly scenario: SlowScenario;
  readonly peer: Peer;
  readonly round: number;
  /** `taskset -c` list for the server, or null */
  readonly cpus: string | null;
  /** where a Node server writes its V8 CPU profile (--cpu-prof); null for none */
  readonly profileDir: string | null;
  readonly clockTicks: number;
  readonly relay?: RelayVariant;
}

/** Never throws for a failing peer: the failure is recorded in the run. */
export async function runSlowTrial(input: SlowTrialInput): Promise<SlowRun> {
  const { scenario: s, peer } = input;
  const base = { scenario: s.name, peer: peer.name, round: input.round };
  let instance: PeerInstance;
  try {
    instance = await peer.start({ cpus: input.cpus, profileDir: input.profileDir, rooms: false, ...(input.relay ? { relay: input.relay } : {}) });
  } catch (err) {
    return failed(base, `start: ${(err as Error).message}`);
  }
  const url = instance.urls[0]!;
  const port = Number(new URL(url).port);
  // The soft fd limit raised to the hard one. Not pinned: reading 1,000 sockets at 800 KB/s each takes most of a
  // core, which the load generator's share of a small machine does not have while other work runs.
  const command = [process.execPath, HOLDERS, String(port), String(s.stalled), s.stalledRead ? 'read' : 'stall', String(FINAL_READ_MS)];
  const holders = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'sh', ...command], { stdio: ['pipe', 'pipe', 'inherit'] });
  track(holders);
  const sockets: WebSocket[] = [];
  let sampler: NodeJS.Timeout | null = null;
  try {
    let out = '';
    holders.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = once(holders, 'exit').then(() => {
      throw new Error(`holders.mjs exited before all ${s.stalled} connections were open`);
    });
    while (!out.includes('ready')) await Promise.race([once(holders.stdout, 'data'), exited]);
    exited.catch(() => {});
    const readers = await Promise.all(Array.from({ length: s.healthy }, () => openSocket(url, sockets)));
    const publisher = await openSocket(url, sockets);
    publisher.on('message', () => {});
    await probe(publisher, readers);

    const latencies: number[] = [];
    let healthyClosed = 0;
    for (const reader of readers) {
      reader.on('message', (data: Buffer) => {
        if (data.length === s.payloadBytes) latencies.push(performance.now() - data.readDoubleLE(0));
      });
      reader.once('close', () => healthyClosed++);
    }
    const pids = instance.pids;
    const baselineKiB = sum(pids, rssKiB);
    let peakKiB = baselineKiB;
    const ticks0 = sum(pids, cpuTicks);
    const t0 = performance.now();
    let allCutAt: number | null = null;
    let counting = false;
    sampler = setInterval(() => {
      peakKiB = Math.max(peakKiB, sum(pids, rssKiB));
      // Every connection but the healthy readers and the publisher closed by the server. `ss` runs beside this
      // process's event loop (which times the healthy readers), one at a time; the time is when it was asked.
      if (allCutAt !== null || s.stalledRead || counting) return;
      counting = true;
      const askedAt = performance.now() - t0;
      void established(port).then((n) => {
        counting = false;
        if (allCutAt === null && n !== null && n <= s.healthy + 1) allCutAt = askedAt;
      });
    }, SAMPLE_MS);

    const total = s.seconds * s.rateMsgsPerS;
    const message = Buffer.alloc(s.payloadBytes, 1);
    for (let k = 0; k < total; k++) {
      const due = t0 + (k * 1000) / s.rateMsgsPerS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      message.writeDoubleLE(due, 0);
      publisher.send(message);
    }
    // The held clients read again as soon as the traffic ends: a client that catches up within the server's close
    // timeout reads whatever close frame it was sent.
    holders.stdin.end();
    const summary = lastLine(holders.stdout, () => out);
    const expected = total * s.healthy;
    const deadline = performance.now() + STRAGGLERS_MS;
    while (latencies.length < expected && performance.now() < deadline && healthyClosed === 0) await new Promise((r) => setTimeout(r, 20));
    clearInterval(sampler);
    const serverCpuS = (sum(pids, cpuTicks) - ticks0) / input.clockTicks;
    const endKiB = sum(pids, rssKiB);
    const line = await summary;
    const sorted = latencies.slice().sort((a, b) => a - b);
    const at = (q: number): number => round1(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN);
    return {
      ...base,
      error: null,
      expected,
      lost: expected - latencies.length,
      healthyClosed,
      latencyMs: sorted.length ? { p50: at(0.5), p99: at(0.99), max: round1(sorted.at(-1)!) } : null,
      baselineRssMiB: mib(baselineKiB),
      peakRssMiB: mib(peakKiB),
      endRssMiB: mib(endKiB),
      serverCpuS: round1(serverCpuS),
      allCutS: allCutAt === null ? null : Math.round(allCutAt / 10) / 100,
      held: JSON.parse(line) as HeldOutcome,
    };
  } catch (err) {
    return failed(base, (err as Error).message);
  } finally {
    if (sampler) clearInterval(sampler);
    for (const ws of sockets) ws.terminate();
    if (holders.exitCode === null) holders.kill('SIGKILL');
    await instance.close();
  }
}

function openSocket(url: string, all: WebSocket[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    all.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** gorilla registers clients asynchronously: probe until every reader has one before measuring (at most 10 s). */
async function probe(publisher: WebSocket, readers: readonly WebSocket[]): Promise<void> {
  const got = new Set<WebSocket>();
  const onProbe = (reader: WebSocket) => (data: Buffer) => {
    if (data.length === 8) got.add(reader);
  };
  const listeners = readers.map((r) => [r, onProbe(r)] as const);
  for (const [r, l] of listeners) r.on('message', l);
  const deadline = performance.now() + 10_000;
  while (got.size < readers.length) {
    if (performance.now() > deadline) throw new Error('the healthy readers never got a probe');
    publisher.send(Buffer.alloc(8));
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  for (const [r, l] of listeners) r.off('message', l);
}

/** Server-side established TCP connections on `port` (`ss`); null when it failed. */
function established(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('ss', ['-Htn', 'state', 'established', `sport = :${port}`], { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, out) => {
      resolve(err ? null : out.split('\n').filter((l) => l.trim() !== '').length);
    });
  });
}

/** Resolves with the holders' JSON line (the last line it prints before exiting). */
async function lastLine(stdout: NodeJS.ReadableStream, text: () => string): Promise<string> {
  await once(stdout, 'end');
  const line = text().trim().split('\n').at(-1) ?? '';
  if (!line.startsWith('{')) throw new Error(`holders.mjs printed no summary: ${JSON.stringify(text().slice(-200))}`);
  return line;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const mib = (kib: number): number => Math.round(kib / 1024);

function failed(base: Pick<SlowRun, 'scenario' | 'peer' | 'round'>, error: string): SlowRun {
  return {
    ...base,
    error,
    expected: 0,
    lost: 0,
    healthyClosed: 0,
    latencyMs: null,
    baselineRssMiB: null,
    peakRssMiB: null,
    endRssMiB: null,
    serverCpuS: null,
    allCutS: null,
    held: null,
  };
}
