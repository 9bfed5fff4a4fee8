// Drives one load generator run: spawn, wait for "connected", let the caller sample the idle server,
// say "go", and validate the result line.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { track } from '../children.js';
import { z } from 'zod';
import type { Scenario } from '../scenarios.js';

const connectedLine = z.object({ event: z.literal('connected'), ok: z.boolean(), connections: z.number(), connect_ms: z.number() });

const latencyNs = z.object({ count: z.number(), p50: z.number(), p90: z.number(), p99: z.number(), p999: z.number(), max: z.number(), mean: z.number() });

const resultLine = z.object({
  event: z.literal('result'),
  ok: z.boolean(),
  error: z.string().nullable(),
  mode: z.enum(['fixed', 'max']),
  subs: z.number(),
  pubs: z.number(),
  payload: z.number(),
  text: z.boolean(),
  threads: z.number(),
  window: z.number(),
  connect_ms: z.number(),
  measure_s: z.number(),
  sent: z.number(),
  expected: z.number(),
  delivered: z.number(),
  unique: z.number(),
  lost: z.number(),
  dup: z.number(),
  ooo: z.number(),
  bad: z.number(),
  disconnects: z.number(),
  deliveries_per_s: z.number(),
  latency_ns: latencyNs,
  /** deliveries to a connection on another URL than the publisher's (a cluster's cross-instance hop); null with one URL */
  remote_latency_ns: latencyNs.nullable(),
  cpu_s: z.number(),
  wall_s: z.number(),
  cpu_pct: z.number(),
  saturated: z.boolean(),
  stalled: z.boolean(),
  drain_timed_out: z.boolean(),
});

export type LoadgenResult = z.infer<typeof resultLine>;
export type LoadgenLatency = z.infer<typeof latencyNs>;

export interface LoadgenRun {
  readonly binary: string;
  readonly urls: readonly string[];
  readonly scenario: Scenario;
  readonly threads: number;
  /** `taskset -c` list, or null */
  readonly cpus: string | null;
  /** called once every connection is open and idle; traffic starts when it resolves */
  readonly onConnected: () => Promise<void>;
}

/** Seconds the load generator may spend on connecting and, separately, on traffic plus drain. */
function timeoutS(s: Scenario): number {
  return 20 + s.subscribers / 250 + s.warmupS + s.measureS;
}

export function loadgenArgs(run: LoadgenRun): string[] {
  const s = run.scenario;
  // every publisher is a connection of the first thread, which paces them without locks
  const threads = Math.max(1, Math.min(run.threads, s.subscribers, Math.floor(s.subscribers / s.publishers)));
  const args = [
    ...run.urls.flatMap((url) => ['--url', url]),
    ...['--subs', String(s.subscribers), '--pubs', String(s.publishers), '--payload', String(s.payloadBytes)],
    ...['--mode', s.mode, '--rate', String(s.rateMsgsPerS), '--inflight', String(s.inflight)],
    ...['--warmup-s', String(s.warmupS), '--measure-s', String(s.measureS), '--drain-s', '3'],
    ...['--threads', String(threads), '--timeout-s', String(timeoutS(s))],
  ];
  if (s.rooms !== undefined) args.push('--rooms', String(s.rooms));
  if (s.sources !== undefined) args.push('--sources', String(s.sources));
  if (s.text) args.push('--text');
  return args;
}

/** Resolves with the validated result line; rejects when the generator fails to connect, crashes or hangs. */
export function runLoadgen(run: LoadgenRun): Promise<LoadgenResult> {
  const pinned = run.cpus === null ? [run.binary] : ['taskset', '-c', run.cpus, run.binary];
  const child = spawn(pinned[0] ?? run.binary, [...pinned.slice(1), ...loadgenArgs(run)], { stdio: ['pipe', 'pipe', 'pipe'] });
  track(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  // Past the generator's own timeouts, something is wrong with it, not with the server.
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 2 * 1000 * timeoutS(run.scenario) + 10_000);

  return new Promise<LoadgenResult>((resolve, reject) => {
    let result: LoadgenResult | null = null;
    let problem: string | null = null;
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        problem = `unparsable line from loadgen: ${line.slice(0, 200)}`;
        return;
      }
      const connected = connectedLine.safeParse(parsed);
      if (connected.success) {
        if (!connected.data.ok) return; // the result line that follows carries the error
        run.onConnected().then(
          () => child.stdin.end('go\n'),
          (err: unknown) => {
            problem = `sampling the idle server failed: ${String(err)}`;
            child.stdin.end('stop\n');
          },
        );
        return;
      }
      const res = resultLine.safeParse(parsed);
      if (res.success) result = res.data;
      else problem = `malformed result line: ${res.error.message}`;
    });
    child.once('error', (err) => {
      clearTimeout(killTimer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      if (problem !== null) reject(new Error(problem));
      else if (result !== null) resolve(result);
      else reject(new Error(`loadgen exited (code ${code}, signal ${signal}) without a result${stderr ? `: ${stderr.trim()}` : ''}`));
    });
  });
}
