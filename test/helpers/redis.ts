// Starts a real redis-server (no persistence) on a free loopback port for one test, and stops it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { onTestFinished } from 'vitest';
import { within } from './wait.js';

/** Absolute path of redis-server on PATH, or null when it is not installed. */
export const REDIS_SERVER: string | null = findOnPath('redis-server');

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  /** Kills the server (SIGKILL by default: a crash, not a shutdown) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts redis-server on `port` (a free one when omitted); it is killed when the current test finishes. A free port
 * is only free when it was looked at: should something else bind it before redis-server does (a client's outgoing
 * connection takes ports from the same range), a new one is tried.
 */
export async function startRedis(port?: number): Promise<RedisServer> {
  if (port !== undefined) return startRedisOn(port);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOn(await freePort());
    } catch (err) {
      if (attempt === 3 || !(err instanceof Error) || !/address already in use/i.test(err.message)) throw err;
    }
  }
}

async function startRedisOn(bindPort: number): Promise<RedisServer> {
  if (REDIS_SERVER === null) throw new Error('redis-server is not on PATH');
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(bindPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onTestFinished(() => stop(child, exited, 'SIGKILL'));
  let log = '';
  await within(
    new Promise<void>((resolve, reject) => {
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        log += chunk;
        if (log.includes('Ready to accept connections')) resolve();
      });
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
      void exited.then(() => reject(new Error(`redis-server exited before it was ready:\n${log}`)));
    }),
    10_000,
    `redis-server on port ${bindPort}`,
  );
  return {
    port: bindPort,
    url: `redis://127.0.0.1:${bindPort}`,
    pid: child.pid as number,
    kill: (signal = 'SIGKILL') => stop(child, exited, signal),
  };
}

async function stop(child: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  await within(exited, 10_000, `redis-server (pid ${child.pid}) to exit`);
}

/** A port nothing listens on right now (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Absolute path of executable `name` on PATH, or null. */
export function findOnPath(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
