// Paced drain (shutdown.drain_spread_s): on SIGTERM the 1001 closes are spread over the window, as clients see them,
// and the process still exits within shutdown.timeout_s.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectMany } from '../helpers/client.js';
import { listening, runCli } from '../helpers/cli.js';
import { within } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-drain-'));
const LOOPBACK = 'server: { host: 127.0.0.1, port: 0 }\nmetrics: { host: 127.0.0.1, port: 0 }\n';

/** Runs the CLI with `shutdown`, connects `n` clients, sends SIGTERM; returns when each client saw its close, and the exit. */
async function drain(shutdown: string, n: number) {
  const file = join(dir, `relay-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `${LOOPBACK}shutdown: ${shutdown}\n`);
  const run = runCli(['-c', file]);
  const { ws_port } = await listening(run);
  const clients = await connectMany(`ws://127.0.0.1:${ws_port}`, n);
  const signalled = performance.now();
  run.child.kill('SIGTERM');
  const closes = await Promise.all(
    clients.map(async (c) => {
      const { code } = await within(c.closed, 20_000, 'the close');
      return { code, at: performance.now() - signalled };
    }),
  );
  const code = await within(run.exited, 20_000, 'the relay to exit');
  return { closes: closes.map((c) => c.at).sort((a, b) => a - b), codes: new Set(closes.map((c) => c.code)), code, exitedAfter: performance.now() - signalled };
}

describe('shutdown.drain_spread_s', () => {
  it('spreads the 1001 closes over the window and exits within timeout_s', async () => {
    const n = 60;
    const { closes, codes, code, exitedAfter } = await drain('{ timeout_s: 5, drain_spread_s: 2 }', n);
    expect(codes).toEqual(new Set([1001]));
    expect(code).toBe(0);
    expect(exitedAfter).toBeLessThan(5000 + 1000);
    const first = closes[0]!;
    const last = closes[n - 1]!;
    // Scheduled from 0 to 2 s * (n-1)/n; the margins leave room for a busy machine, not for closing all at once.
    expect(last - first).toBeGreaterThan(1400);
    expect(last - first).toBeLessThan(2000 + 1500);
    // Evenly: about half of the clients are closed in each half of the observed window.
    const firstHalf = closes.filter((t) => t - first < (last - first) / 2).length;
    expect(firstHalf).toBeGreaterThan(n * 0.3);
    expect(firstHalf).toBeLessThan(n * 0.7);
  });

  it('without it every client is closed at once', async () => {
    const { closes, codes, code } = await drain('{ timeout_s: 5 }', 60);
    expect(codes).toEqual(new Set([1001]));
    expect(code).toBe(0);
    expect(closes[59]! - closes[0]!).toBeLessThan(1000);
  });
});
