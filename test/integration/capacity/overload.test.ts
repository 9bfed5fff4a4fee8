// Load-aware admission through the real CLI. The event loop is really stalled: the relay process is stopped and
// continued (SIGSTOP/SIGCONT) in a duty cycle, as a container throttled by its CPU quota is, for longer than
// limits.max_event_loop_delay_ms, and its own perf_hooks monitor sees the delay. Memory uses the real resident set
// against a threshold below it.
import { describe, expect, it } from 'vitest';
import { listening, runCli, type CliRun } from '../../helpers/cli.js';
import { HandshakeRefused, TestClient } from '../../helpers/client.js';
import { metricValue, scrape } from '../../helpers/metrics.js';
import { until } from '../../helpers/wait.js';

interface Running {
  readonly run: CliRun;
  readonly url: string;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  readyz(): Promise<{ status: number; body: string }>;
}

async function startCli(sets: string[]): Promise<Running> {
  const base = ['server.host=127.0.0.1', 'server.port=0', 'metrics.host=127.0.0.1', 'metrics.port=0', 'log.level=info'];
  const run = runCli([...base, ...sets].flatMap((s) => ['--set', s]));
  const ports = await listening(run);
  const metrics = `http://127.0.0.1:${ports.metrics_port}`;
  return {
    run,
    url: `ws://127.0.0.1:${ports.ws_port}`,
    metric: async (name, labels) => metricValue(await scrape(`${metrics}/metrics`), name, labels),
    readyz: async () => {
      const res = await fetch(`${metrics}/readyz`);
      return { status: res.status, body: await res.text() };
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function refusal(url: string): Promise<HandshakeRefused> {
  const err = await new TestClient(url).opened().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeRefused);
  return err as HandshakeRefused;
}

describe('load-aware admission', () => {
  it('a stalled event loop turns new upgrades into 503 overloaded with Retry-After and /readyz into 503; existing clients keep being served; it clears by itself', async () => {
    const relay = await startCli(['limits.max_event_loop_delay_ms=400', 'log.level=debug']);
    const existing = await new TestClient(relay.url).opened();

    // Stalls of 700 ms, each followed by 300 ms of running (time enough to be scheduled on a busy machine): the
    // sample after each stall sees the delay.
    for (let i = 0; i < 5; i++) {
      relay.run.child.kill('SIGSTOP');
      await sleep(700);
      relay.run.child.kill('SIGCONT');
      await sleep(300);
    }

    let ready = { status: 200, body: '' };
    await until(async () => (ready = await relay.readyz()).status === 503, 5000, '/readyz to report the overload').catch((err: Error) => {
      throw new Error(`${err.message}; the relay's load samples:\n${relay.run.stdout().split('\n').filter((l) => l.includes('load sample')).join('\n')}`);
    });
    expect(ready.body).toMatch(/overload: event-loop delay \d+ ms \(limit 400 ms\)/);
    const refused = await refusal(relay.url);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(await relay.metric('relay_upgrades_rejected_total', { reason: 'overloaded' })).toBeGreaterThanOrEqual(1);
    expect(await relay.metric('relay_overloaded', { cause: 'event_loop' })).toBe(1);
    expect(await relay.metric('relay_event_loop_delay_seconds')).toBeDefined();

    // The client that was already connected is still relayed to while new ones are refused.
    existing.send('still served');
    expect((await existing.received(1))[0]?.text).toBe('still served');

    await until(async () => (await relay.readyz()).status === 200, 15_000, 'the overload to clear');
    const fresh = await new TestClient(relay.url).opened();
    expect(await relay.metric('relay_overloaded', { cause: 'event_loop' })).toBe(0);
    expect(relay.run.stdout()).toContain('"msg":"no longer overloaded: accepting upgrades"');
    await Promise.all([existing.close(), fresh.close()]);
  });

  it('resident memory above limits.max_memory_bytes refuses new upgrades with 503 overloaded and says so in /readyz', async () => {
    // Every Node process is larger than 16 MiB: the threshold is crossed by the real resident set from the start.
    const relay = await startCli([`limits.max_memory_bytes=${16 * 1024 * 1024}`]);
    let ready = { status: 200, body: '' };
    await until(async () => (ready = await relay.readyz()).status === 503, 5000, '/readyz to report memory');
    expect(ready.body).toMatch(/overload: resident memory \d+ MiB \(limit 16 MiB\)/);
    expect((await refusal(relay.url)).status).toBe(503);
    expect(await relay.metric('relay_upgrades_rejected_total', { reason: 'overloaded' })).toBe(1);
    expect(await relay.metric('relay_overloaded', { cause: 'memory' })).toBe(1);
    expect(await relay.metric('relay_memory_max_bytes')).toBe(16 * 1024 * 1024);
  });

  it('by default neither watch refuses a relay at rest', async () => {
    const relay = await startCli([]);
    const client = await new TestClient(relay.url).opened();
    expect((await relay.readyz()).status).toBe(200);
    expect(await relay.metric('relay_overloaded', { cause: 'memory' })).toBe(0);
    expect(await relay.metric('relay_memory_max_bytes')).toBeGreaterThan(64 * 1024 * 1024);
    await client.close();
  });
});
