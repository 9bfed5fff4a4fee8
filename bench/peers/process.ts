// Starts one server process on loopback, learns its port from its stdout, and stops it by PID.
// Helpers (Redis for the cluster peer) start the same way with their own readiness line.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { track } from '../children.js';

/** Node flags that write a CPU profile into `dir` when the process exits (SIGTERM exits cleanly). */
export function profileArgs(dir: string | null): string[] {
  return dir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

export interface StartedProcess {
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `graceMs`; idempotent */
  stop(graceMs?: number): Promise<void>;
}

export interface ServerProcess extends StartedProcess {
  /** the WebSocket port from the listening line */
  readonly port: number;
  /** every field of the listening line (the relay's also has `metrics_port`) */
  readonly listening: Readonly<Record<string, unknown>>;
}

export interface ServerSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** `taskset -c` list, or null */
  readonly cpus: string | null;
  /** longest wait for the ready line (ms) */
  readonly readyTimeoutMs?: number;
}

/** Starts a server and resolves once it prints a JSON line with a numeric `ws_port`. */
export async function startServer(spec: ServerSpec): Promise<ServerProcess> {
  const { pid, stop, ready } = await startProcess(spec, 'no listening line with ws_port', listeningLine);
  return { pid, stop, port: ready.ws_port, listening: ready };
}

const KEPT_LINES = 20;

/**
 * The shell raises the soft fd limit to the hard one (5,000 connections need more than 1,024) and
 * then execs, so the PID we hold is the server's own and /proc/PID measures the server alone.
 */
export function startProcess<T>(spec: ServerSpec, waitingFor: string, isReady: (line: string) => T | null): Promise<StartedProcess & { readonly ready: T }> {
  const pinned = spec.cpus === null ? [spec.command, ...spec.args] : ['taskset', '-c', spec.cpus, spec.command, ...spec.args];
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'sh', ...pinned], {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > KEPT_LINES) tail.shift();
  };
  // Both pipes are always drained: a server that logs per connection must never block on a full pipe.
  readline.createInterface({ input: child.stderr }).on('line', keep);
  const lines = readline.createInterface({ input: child.stdout });

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | null = null;
  const stop = (graceMs = 3000): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  return new Promise((resolve, reject) => {
    let ready = false;
    const failWith = (why: string): void => {
      void stop(500);
      reject(new Error(`${spec.name}: ${why}${tail.length ? `\n  last output:\n  ${tail.join('\n  ')}` : ''}`));
    };
    const timer = setTimeout(() => failWith(waitingFor), spec.readyTimeoutMs ?? 15_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      failWith(err.message);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) failWith(`exited early (code ${code}, signal ${signal})`);
    });
    lines.on('line', (line) => {
      keep(line);
      if (ready || child.pid === undefined) return;
      const found = isReady(line);
      if (found === null) return;
      ready = true;
      clearTimeout(timer);
      resolve({ pid: child.pid, stop, ready: found });
    });
  });
}

/** "node v24.22.3, uWS 20.57.0" from a listening line's node_version and uws_version; undefined without them. */
export function runtimeOf(listening: Readonly<Record<string, unknown>>): string | undefined {
  const parts = [
    typeof listening.node_version === 'string' ? `node ${listening.node_version}` : null,
    typeof listening.uws_version === 'string' ? `uWS ${listening.uws_version}` : null,
  ].filter((p): p is string => p !== null);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** The relay logs pino JSON; the bench peers print the same shape. Any JSON line with a numeric ws_port counts. */
export function listeningLine(line: string): (Record<string, unknown> & { ws_port: number }) | null {
  if (!line.startsWith('{')) return null;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null) return null;
    const fields = parsed as Record<string, unknown>;
    const port = fields.ws_port;
    return typeof port === 'number' && port > 0 ? { ...fields, ws_port: port } : null;
  } catch {
    return null;
  }
}
