// Carrier bench: messages/s, one-way latency and CPU per message of the two cross-thread carriers
// (src/workers/port-carrier.ts and ring-carrier.ts), with scenarios as data and every trial run in each round.
// This file is both the coordinator (main thread) and every measured thread (worker_threads).
//
//   npx tsx bench/carrier.ts [--rounds N] [--seconds S] [--only NAME-SUBSTRING] [--quick]
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Carrier, LinkEnd, LinkReceiver, LinkSender } from '../src/workers/carrier.js';
import { transferList } from '../src/workers/carrier.js';
import { portCarrier } from '../src/workers/port-carrier.js';
import { ringCarrier } from '../src/workers/ring-carrier.js';
import { describeMachine } from './machine.js';
import { RESULTS_DIR } from './paths.js';

type Kind = 'port' | 'ring';
const CARRIERS: Record<Kind, Carrier> = { port: portCarrier, ring: ringCarrier };

/**
 * One load. threads 2: thread 0 sends to thread 1 (one link, sender and receiver apart). threads 4: every thread
 * sends each of its messages to the 3 others (full mesh, 12 links), as a relay thread hands each client message on.
 * max: a burst of 100 messages per event-loop turn while every outgoing link has under WINDOW_BYTES unread (else
 * the thread sleeps a timer tick). rate: `rate` messages/s per sending thread, sent from a 1 ms timer.
 */
interface Scenario {
  readonly name: string;
  readonly threads: 2 | 4;
  readonly bytes: number;
  readonly mode: 'max' | 'rate';
  readonly rate?: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: '2t-max-64b', threads: 2, bytes: 64, mode: 'max' },
  { name: '2t-max-1kib', threads: 2, bytes: 1024, mode: 'max' },
  { name: '2t-max-16kib', threads: 2, bytes: 16384, mode: 'max' },
  { name: '2t-rate-64b', threads: 2, bytes: 64, mode: 'rate', rate: 100_000 },
  { name: '2t-rate-1kib', threads: 2, bytes: 1024, mode: 'rate', rate: 100_000 },
  { name: '2t-rate-16kib', threads: 2, bytes: 16384, mode: 'rate', rate: 10_000 },
  { name: '4t-max-64b', threads: 4, bytes: 64, mode: 'max' },
  { name: '4t-max-1kib', threads: 4, bytes: 1024, mode: 'max' },
  { name: '4t-max-16kib', threads: 4, bytes: 16384, mode: 'max' },
  { name: '4t-rate-64b', threads: 4, bytes: 64, mode: 'rate', rate: 25_000 },
  { name: '4t-rate-1kib', threads: 4, bytes: 1024, mode: 'rate', rate: 25_000 },
  { name: '4t-rate-16kib', threads: 4, bytes: 16384, mode: 'rate', rate: 2_500 },
];
const QUICK = ['2t-max-1kib', '2t-rate-1kib', '4t-max-1kib'];

const BURST = 100;
/** In max mode a sender waits while a link has this much unread: enough to keep the receiver busy, far below the bound. */
const WINDOW_BYTES = 2 * 1024 * 1024;
const MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** Ring size per link: the implementation's default. */
const RING_BYTES = 4 * 1024 * 1024;
const WARMUP_MS = 500;
/** One message in LATENCY_EVERY carries a timestamp and is timed. */
const LATENCY_EVERY = 8;
/** Latency histogram: 1 µs buckets up to 100 ms, then one overflow bucket. */
const HIST_BUCKETS = 100_001;

interface ThreadPlan {
  readonly id: number;
  readonly kind: Kind;
  readonly scenario: Scenario;
  readonly sends: boolean;
  readonly outgoing: readonly { to: number; end: LinkEnd }[];
  readonly incoming: readonly { from: number; end: LinkEnd }[];
}

interface WindowStats {
  cpuNs: number | null;
  sent: number;
  received: number;
  ms: number;
}

/** A thread's count at the end of traffic: messages it sent (each to every outgoing link), drops per receiving thread. */
interface Stopped {
  readonly id: number;
  readonly sent: number;
  readonly dropped: Record<number, number>;
  readonly window: WindowStats;
}

interface ThreadReport {
  readonly id: number;
  readonly window: WindowStats;
  /** Per incoming link: messages received in all, sequence regressions (must be 0). */
  readonly received: Record<number, number>;
  readonly disorder: number;
  /** Ring: times a receiver found records on its periodic re-check instead of through a wake-up. */
  readonly missedWakeups: number;
  readonly hist: Uint32Array;
}

/**
 * Monotonic ms shared by every thread: performance.now() plus this thread's offset to process.hrtime (CLOCK_MONOTONIC).
 * performance.timeOrigin + now() differs between threads by up to ~1 ms here, so it cannot time a hop between them.
 * The offset is read between two now() calls, keeping the tightest of 50 tries (a busy machine can preempt in between).
 */
function monoClock(): () => number {
  let offset = 0;
  let best = Infinity;
  for (let i = 0; i < 50; i++) {
    const before = performance.now();
    const mono = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      offset = mono - (before + after) / 2;
    }
  }
  return () => performance.now() + offset;
}

/** CPU time of the calling thread in ns: /proc/thread-self/schedstat (Linux), else process.threadCpuUsage, else null. */
function threadCpuNs(): number | null {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  } catch {
    const usage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.();
    return usage === undefined ? null : (usage.user + usage.system) * 1000;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A measured thread.

function runThread(plan: ThreadPlan, port: NonNullable<typeof parentPort>): void {
  const carrier = CARRIERS[plan.kind];
  const now = monoClock();
  const hist = new Uint32Array(HIST_BUCKETS);
  let measuring = false;
  let receivedTotal = 0;
  let disorder = 0;
  const stamp = new Float64Array(1);
  const stampBytes = new Uint8Array(stamp.buffer);

  const received: Record<number, number> = {};
  const receivers: LinkReceiver[] = plan.incoming.map(({ from, end }) => {
    received[from] = 0;
    let last = -1;
    return carrier.openReceiver(end, (_topic, message) => {
      const seq = (message[0] ?? 0) | ((message[1] ?? 0) << 8) | ((message[2] ?? 0) << 16) | ((message[3] ?? 0) << 24);
      if (seq <= last) disorder++;
      last = seq;
      received[from] = (received[from] ?? 0) + 1;
      receivedTotal++;
      if (measuring && seq % LATENCY_EVERY === 0) {
        for (let i = 0; i < 8; i++) stampBytes[i] = message[4 + i] ?? 0;
        const us = Math.round((now() - (stamp[0] ?? 0)) * 1000);
        hist[Math.min(Math.max(us, 0), HIST_BUCKETS - 1)]!++;
      }
    });
  });
  const senders: LinkSender[] = plan.outgoing.map(({ end }) => carrier.openSender(end, { maxPendingBytes: MAX_PENDING_BYTES }));

  const payload = Buffer.alloc(plan.scenario.bytes, 0x61);
  let seq = 0;
  let stopped = false;
  const sendOne = (): void => {
    payload.writeUInt32LE(seq, 0);
    payload.writeDoubleLE(seq % LATENCY_EVERY === 0 ? now() : 0, 4);
    for (const sender of senders) sender.send('room', payload, true);
    seq++;
  };
  const blocked = (): boolean => senders.some((s) => s.pendingBytes > WINDOW_BYTES);
  const burst = (): void => {
    if (stopped) return;
    if (blocked()) {
      setTimeout(burst, 0);
      return;
    }
    for (let i = 0; i < BURST; i++) sendOne();
    setImmediate(burst);
  };
  let startedAt = 0;
  const tick = (): void => {
    if (stopped) return;
    const due = Math.floor(((now() - startedAt) * (plan.scenario.rate ?? 0)) / 1000);
    // After a stall, catch up by at most 10 bursts per tick.
    for (let n = Math.min(due - seq, 10 * BURST); n > 0; n--) sendOne();
    setTimeout(tick, 1);
  };

  const snapshot = (): WindowStats => ({ cpuNs: threadCpuNs(), sent: seq, received: receivedTotal, ms: now() });
  let first: WindowStats;
  port.on('message', (msg: { go?: { at: number; seconds: number }; expect?: Record<number, number> }) => {
    if (msg.go !== undefined) {
      const { at, seconds } = msg.go;
      const start = (): void => {
        startedAt = now();
        if (plan.sends) (plan.scenario.mode === 'max' ? burst : tick)();
      };
      setTimeout(start, Math.max(0, at - now()));
      setTimeout(() => {
        first = snapshot();
        measuring = true;
      }, Math.max(0, at + WARMUP_MS - now()));
      setTimeout(() => {
        const last = snapshot();
        measuring = false;
        stopped = true;
        for (const s of senders) s.close();
        const window: WindowStats = {
          cpuNs: first.cpuNs === null || last.cpuNs === null ? null : last.cpuNs - first.cpuNs,
          sent: last.sent - first.sent,
          received: last.received - first.received,
          ms: last.ms - first.ms,
        };
        const dropped: Record<number, number> = {};
        plan.outgoing.forEach(({ to }, i) => (dropped[to] = senders[i]?.dropped ?? 0));
        port.postMessage({ stopped: { id: plan.id, sent: seq, dropped, window } });
      }, Math.max(0, at + WARMUP_MS + seconds * 1000 - now()));
    }
    if (msg.expect !== undefined) {
      const expected = msg.expect;
      const deadline = now() + 10_000;
      const check = (): void => {
        const done = Object.entries(expected).every(([from, n]) => (received[Number(from)] ?? 0) >= n);
        if (!done && now() < deadline) {
          setTimeout(check, 5);
          return;
        }
        for (const r of receivers) r.close();
        const missedWakeups = receivers.reduce((n, r) => n + ((r as { missedWakeups?: number }).missedWakeups ?? 0), 0);
        port.postMessage({ report: { id: plan.id, received, disorder, missedWakeups, hist } });
        // With every link closed nothing should keep this thread: it ends by itself (a check on the links, too).
        port.close();
      };
      check();
    }
  });
  port.postMessage({ ready: plan.id });
}

if (!isMainThread && parentPort !== null) runThread(workerData as ThreadPlan, parentPort);

// ---------------------------------------------------------------------------------------------------------------
// The coordinator.

/** Worker threads do not inherit tsx's loader: each registers it, then loads this file. */
const THREAD_ENTRY = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;

interface TrialResult {
  readonly scenario: string;
  readonly carrier: Kind;
  readonly round: number;
  /** Messages received per second, all threads, in the measure window. */
  readonly deliveredPerSec: number;
  /** Messages handed to send() per second (each once per outgoing link), all threads. */
  readonly sentPerSec: number;
  /** 2 threads: the sending thread's CPU per message sent, the receiving thread's per message received (ns). */
  readonly senderNsPerMsg: number | null;
  readonly receiverNsPerMsg: number | null;
  /** CPU of every measured thread over messages delivered (ns): the carrier's whole cost per message. */
  readonly threadsNsPerMsg: number | null;
  /** Whole process CPU (also V8's GC and platform threads and the idle coordinator) over messages delivered (ns). */
  readonly processNsPerMsg: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly dropped: number;
  /** Accepted and never delivered, after the drain (must be 0), and deliveries out of order (must be 0). */
  readonly lost: number;
  readonly disorder: number;
  readonly missedWakeups: number;
}

function percentile(hist: Uint32Array, q: number): number {
  let total = 0;
  for (const n of hist) total += n;
  if (total === 0) return NaN;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i] ?? 0;
    if (seen >= rank) return i;
  }
  return hist.length - 1;
}

function maxOf(hist: Uint32Array): number {
  for (let i = hist.length - 1; i >= 0; i--) if ((hist[i] ?? 0) > 0) return i;
  return NaN;
}

function once<T>(worker: Worker, pick: (msg: Record<string, unknown>) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: Record<string, unknown>): void => {
      const value = pick(msg);
      if (value === undefined) return;
      worker.off('message', onMessage);
      resolve(value);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

async function trial(scenario: Scenario, kind: Kind, round: number, seconds: number): Promise<TrialResult> {
  const carrier = CARRIERS[kind];
  const n = scenario.threads;
  const outgoing: { to: number; end: LinkEnd }[][] = Array.from({ length: n }, () => []);
  const incoming: { from: number; end: LinkEnd }[][] = Array.from({ length: n }, () => []);
  const senders = n === 2 ? [0] : Array.from({ length: n }, (_, i) => i);
  for (const from of senders) {
    for (let to = 0; to < n; to++) {
      if (to === from) continue;
      const link = carrier.createLink({ ringBytes: RING_BYTES });
      outgoing[from]?.push({ to, end: link.sender });
      incoming[to]?.push({ from, end: link.receiver });
    }
  }
  const workers = Array.from({ length: n }, (_, id) => {
    const plan: ThreadPlan = { id, kind, scenario, sends: senders.includes(id), outgoing: outgoing[id] ?? [], incoming: incoming[id] ?? [] };
    const ends = [...plan.outgoing.map((o) => o.end), ...plan.incoming.map((i) => i.end)];
    return new Worker(THREAD_ENTRY, { eval: true, workerData: plan, transferList: ends.flatMap(transferList) });
  });
  const exits = workers.map((w) => new Promise<number>((resolve) => w.once('exit', resolve)));
  await Promise.all(workers.map((w) => once(w, (m) => m.ready)));

  const clock = monoClock();
  const at = clock() + 50;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let cpuWindow: NodeJS.CpuUsage | undefined;
  setTimeout(() => (cpuStart = process.cpuUsage()), at + WARMUP_MS - clock());
  setTimeout(() => (cpuWindow = process.cpuUsage(cpuStart)), at + WARMUP_MS + seconds * 1000 - clock());
  const stoppedP = workers.map((w) => once(w, (m) => m.stopped as Stopped | undefined));
  for (const w of workers) w.postMessage({ go: { at, seconds } });
  const stopped = await Promise.all(stoppedP);

  // Every receiving thread waits until it has what its senders accepted (sent − dropped), or 10 s.
  const sentBy = new Map(stopped.map((s) => [s.id, s]));
  const accepted = (from: number, to: number): number | undefined => {
    const s = sentBy.get(from);
    return s === undefined ? undefined : s.sent - (s.dropped[to] ?? 0);
  };
  const reportsP = workers.map((w) => once(w, (m) => m.report as ThreadReport | undefined));
  workers.forEach((w, id) => {
    const expect: Record<number, number> = {};
    for (const { from } of incoming[id] ?? []) expect[from] = accepted(from, id) ?? 0;
    w.postMessage({ expect });
  });
  const reports = await Promise.all(reportsP);
  const codes = await Promise.race([
    Promise.all(exits),
    delay(10_000, null, { ref: false }),
  ]);
  if (codes === null) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new Error(`${scenario.name}/${kind}: a thread did not end by itself after closing its links`);
  }

  const hist = new Uint32Array(HIST_BUCKETS);
  for (const r of reports) for (let i = 0; i < HIST_BUCKETS; i++) hist[i]! += r.hist[i] ?? 0;
  let lost = 0;
  for (const r of reports) {
    for (const [from, got] of Object.entries(r.received)) lost += Math.max(0, (accepted(Number(from), r.id) ?? 0) - got);
  }
  const windows = stopped.map((s) => s.window);
  const ms = Math.max(...windows.map((w) => w.ms));
  const delivered = windows.reduce((sum, w) => sum + w.received, 0);
  const sent = windows.reduce((sum, w) => sum + w.sent * (n === 2 ? 1 : n - 1), 0);
  const cpus = windows.map((w) => w.cpuNs);
  const allCpu = cpus.every((c) => c !== null) ? cpus.reduce((a, b) => (a ?? 0) + (b ?? 0), 0) : null;
  const processNs = cpuWindow === undefined ? NaN : (cpuWindow.user + cpuWindow.system) * 1000;
  const w0 = windows[0];
  const w1 = windows[1];
  return {
    scenario: scenario.name,
    carrier: kind,
    round,
    deliveredPerSec: (delivered / ms) * 1000,
    sentPerSec: (sent / ms) * 1000,
    senderNsPerMsg: n === 2 && w0?.cpuNs != null && w0.sent > 0 ? w0.cpuNs / w0.sent : null,
    receiverNsPerMsg: n === 2 && w1?.cpuNs != null && w1.received > 0 ? w1.cpuNs / w1.received : null,
    threadsNsPerMsg: allCpu === null || delivered === 0 ? null : allCpu / delivered,
    processNsPerMsg: processNs / delivered,
    p50Us: percentile(hist, 0.5),
    p99Us: percentile(hist, 0.99),
    maxUs: maxOf(hist),
    dropped: stopped.reduce((sum, s) => sum + Object.values(s.dropped).reduce((a, b) => a + b, 0), 0),
    lost,
    disorder: reports.reduce((sum, r) => sum + r.disorder, 0),
    missedWakeups: reports.reduce((sum, r) => sum + r.missedWakeups, 0),
  };
}

function fmtRate(perSec: number): string {
  return perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)}M` : `${(perSec / 1e3).toFixed(0)}k`;
}

function fmtNs(ns: number | null): string {
  return ns === null || !Number.isFinite(ns) ? '-' : ns >= 10_000 ? `${(ns / 1000).toFixed(1)}µs` : `${Math.round(ns)}ns`;
}

function fmtUs(us: number): string {
  return !Number.isFinite(us) ? '-' : us >= 100_000 ? '>100ms' : us >= 1000 ? `${(us / 1000).toFixed(2)}ms` : `${us}µs`;
}

function row(r: TrialResult): string[] {
  return [
    r.scenario,
    r.carrier,
    String(r.round),
    fmtRate(r.deliveredPerSec),
    fmtNs(r.senderNsPerMsg),
    fmtNs(r.receiverNsPerMsg),
    fmtNs(r.threadsNsPerMsg),
    fmtNs(r.processNsPerMsg),
    fmtUs(r.p50Us),
    fmtUs(r.p99Us),
    fmtUs(r.maxUs),
    r.dropped + r.lost + r.disorder + r.missedWakeups === 0 ? 'ok' : `dropped ${r.dropped} lost ${r.lost} disorder ${r.disorder} missed wake-ups ${r.missedWakeups}`,
  ];
}

function table(rows: string[][]): string {
  const head = ['scenario', 'carrier', 'round', 'msg/s', 'send/msg', 'recv/msg', 'threads/msg', 'process/msg', 'p50', 'p99', 'max', 'check'];
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  return all.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ')).join('\n');
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const quick = args.includes('--quick');
  const rounds = Number(value('--rounds') ?? (quick ? 1 : 2));
  const seconds = Number(value('--seconds') ?? (quick ? 1 : 2));
  const only = value('--only');
  const scenarios = SCENARIOS.filter((s) => (quick ? QUICK.includes(s.name) : true) && (only === undefined || s.name.includes(only)));
  if (!Number.isInteger(rounds) || rounds < 1 || !(seconds > 0) || scenarios.length === 0) {
    console.error('usage: npx tsx bench/carrier.ts [--rounds N] [--seconds S] [--only NAME-SUBSTRING] [--quick]');
    process.exit(2);
  }
  const machine = await describeMachine('none (threads float over every core)');
  console.log(
    `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} before the run`,
  );
  const results: TrialResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of scenarios) {
      // Alternate which carrier goes first, so neither always meets the same machine state.
      const kinds: Kind[] = (round + scenarios.indexOf(scenario)) % 2 === 0 ? ['port', 'ring'] : ['ring', 'port'];
      for (const kind of kinds) {
        const result = await trial(scenario, kind, round, seconds);
        results.push(result);
        console.log(table([row(result)]).split('\n')[1]);
      }
    }
  }
  const sorted = [...results].sort((a, b) => SCENARIOS.findIndex((s) => s.name === a.scenario) - SCENARIOS.findIndex((s) => s.name === b.scenario) || a.carrier.localeCompare(b.carrier) || a.round - b.round);
  console.log(`\n${table(sorted.map(row))}\n`);
  console.log('ring ÷ port, median over rounds (paired within a round): msg/s, thread CPU per message, p50, p99');
  for (const scenario of scenarios) {
    const pairs = Array.from({ length: rounds }, (_, i) => ({
      port: results.find((r) => r.scenario === scenario.name && r.carrier === 'port' && r.round === i + 1),
      ring: results.find((r) => r.scenario === scenario.name && r.carrier === 'ring' && r.round === i + 1),
    }));
    const ratio = (pick: (r: TrialResult) => number | null): string => {
      const values = pairs.map(({ port, ring }) => (port && ring ? (pick(ring) ?? NaN) / (pick(port) ?? NaN) : NaN));
      return `${median(values).toFixed(2)} [${values.map((v) => v.toFixed(2)).join(' ')}]`;
    };
    console.log(
      `  ${scenario.name.padEnd(14)} msg/s ${ratio((r) => r.deliveredPerSec)}  cpu ${ratio((r) => r.threadsNsPerMsg)}  p50 ${ratio((r) => r.p50Us)}  p99 ${ratio((r) => r.p99Us)}`,
    );
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `carrier-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine, loadavg: loadavg(), rounds, seconds, results }, null, 2)}\n`);
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (results.some((r) => r.lost + r.disorder > 0)) {
    console.error('LOSS or DISORDER in a trial: the carrier broke its guarantee');
    process.exit(1);
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
