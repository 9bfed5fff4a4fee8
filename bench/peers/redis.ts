// A throwaway redis-server for the cluster peer: loopback, a free port, no persistence, log on
// stdout (so its ready line is read like a peer's listening line), stopped by PID.
import { createServer } from 'node:net';
import { run } from '../exec.js';
import { startProcess } from './process.js';
import type { StartedProcess } from './process.js';

export const REDIS_SERVER = 'redis-server';

/** null when redis-server runs here, otherwise the note the cluster peer is skipped with */
export async function redisMissing(): Promise<string | null> {
  const version = await run(REDIS_SERVER, ['--version'], { timeoutMs: 5_000 });
  return version.code === 0 ? null : 'redis-server not on PATH (Debian: apt install redis-server)';
}

/** A port that was free a moment ago; the caller retries if another process takes it first. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

export interface RedisProcess extends StartedProcess {
  readonly url: string;
}

const ATTEMPTS = 3;

/** Starts redis-server pinned to `cpus` and resolves once it accepts connections. */
export async function startRedis(cpus: string | null): Promise<RedisProcess> {
  let lastError: unknown = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--logfile', ''];
      const started = await startProcess({ name: 'redis-server', command: REDIS_SERVER, args, cpus, readyTimeoutMs: 10_000 }, 'no "Ready to accept connections" line', (line) =>
        line.includes('Ready to accept connections') ? true : null,
      );
      return { pid: started.pid, stop: started.stop, url: `redis://127.0.0.1:${port}` };
    } catch (err) {
      lastError = err; // most likely the port was taken between the probe and the bind
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
