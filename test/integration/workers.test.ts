// server.workers: several uWS threads in one process act as one relay. Every test makes sure each thread really
// holds clients (the kernel spreads connections by a hash of the client's port) before it asserts anything.
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ClientOptions } from 'ws';
import type { ConfigInput } from '../../src/config/schema.js';
import { LOOPBACK, configFiles, listening, runCli } from '../helpers/cli.js';
import { HandshakeRefused, TestClient } from '../helpers/client.js';
import { selfSigned } from '../helpers/certs.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { REDIS_SERVER, startRedis } from '../helpers/redis.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { startReloadable, type ReloadableRelay } from '../helpers/reloadable.js';
import { until, within } from '../helpers/wait.js';

/** Connections open on each thread, from relay_worker_connections. */
async function perThread(metricsUrl: string, threads: number): Promise<number[]> {
  const text = await scrape(metricsUrl);
  return Array.from({ length: threads }, (_, i) => metricValue(text, 'relay_worker_connections', { worker: String(i) }) ?? 0);
}

/**
 * Opens clients to `url` until at least `count` are open and every one of `threads` threads holds `each` of them
 * (bounded: the kernel's spread is a hash, so a few more connections always reach every thread).
 */
async function spread(relay: { url: string; metricsUrl: string }, threads: number, count: number, each = 1, path = '/'): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  onTestFinished(async () => {
    await Promise.all(clients.map((c) => c.terminate()));
  });
  const open = async (n: number): Promise<void> => {
    const batch = Array.from({ length: n }, () => new TestClient(`${relay.url}${path}`));
    clients.push(...batch);
    await Promise.all(batch.map((c) => c.opened(10_000)));
  };
  await open(count);
  for (let round = 0; round < 40; round++) {
    const counts = await perThread(relay.metricsUrl, threads);
    if (counts.every((n) => n >= each)) return clients;
    await open(2);
  }
  throw new Error(`clients never reached every thread: ${(await perThread(relay.metricsUrl, threads)).join('/')}`);
}

const key = (m: { isBinary: boolean; data: Buffer; text: string }): string => (m.isBinary ? `bin:${m.data.toString('hex')}` : m.text);

async function relayWith(threads: number, overrides: ConfigInput = {}): Promise<TestRelay> {
  const relay = await startRelay({ ...overrides, server: { ...overrides.server, workers: threads } });
  expect(relay.workers).toBe(threads);
  return relay;
}

describe('worker threads', () => {
  it('delivers every message to every client on every one of 4 threads exactly once and in per-sender order, text and binary', async () => {
    const relay = await relayWith(4);
    const clients = await spread(relay, 4, 16, 2);
    const senders = clients.slice(0, 6);
    const perSender = 150;
    // Every sender at once: text and binary interleaved, each numbered.
    for (let i = 0; i < perSender; i++) {
      senders.forEach((s, n) => {
        if (i % 3 === 0) s.send(Buffer.from([n, i >> 8, i & 0xff]), true);
        else s.send(`${n}:${i}`);
      });
    }
    const total = senders.length * perSender;
    await Promise.all(clients.map((c) => c.received(total, 15_000)));
    for (const c of clients) {
      expect(c.inbox).toHaveLength(total);
      senders.forEach((_, n) => {
        const fromN = c.inbox.filter((m) => (m.isBinary ? m.data[0] === n : m.text.startsWith(`${n}:`)));
        const expected = Array.from({ length: perSender }, (__, i) => (i % 3 === 0 ? `bin:${Buffer.from([n, i >> 8, i & 0xff]).toString('hex')}` : `${n}:${i}`));
        expect(fromN.map(key)).toEqual(expected);
      });
    }
    const text = await scrape(relay.metricsUrl);
    expect(metricValue(text, 'relay_messages_total')).toBe(total);
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_deliveries_total') === total * clients.length, 5000, 'every delivery counted');
    expect(metricValue(text, 'relay_connections_active')).toBe(clients.length);
  });

  it('keeps rooms apart across threads, and echo: false leaves out only the sender', async () => {
    const relay = await relayWith(2, { relay: { rooms: true, echo: false } });
    const a = await spread(relay, 2, 4, 1, '/a');
    const b = await spread(relay, 2, 4, 1, '/b');
    // Each room has clients on both threads (the helper counts both rooms together; check each one holds).
    const [first, ...rest] = a;
    first!.send('to a');
    b[0]!.send('to b');
    await Promise.all(rest.map((c) => c.received(1)));
    await Promise.all(b.slice(1).map((c) => c.received(1)));
    for (const c of rest) expect(c.inbox.map((m) => m.text)).toEqual(['to a']);
    for (const c of b.slice(1)) expect(c.inbox.map((m) => m.text)).toEqual(['to b']);
    // A marker after the first messages: nothing else arrived meanwhile, not even the sender's own message.
    rest[0]!.send('marker');
    await first!.received(1);
    expect(first!.inbox.map((m) => m.text)).toEqual(['marker']);
    expect(b[0]!.inbox).toHaveLength(0);
    // 'to a' and 'marker' reached every other client of /a, 'to b' every other client of /b.
    const deliveries = 2 * (a.length - 1) + (b.length - 1);
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_deliveries_total') === deliveries, 5000, `${deliveries} deliveries`);
  });

  it('sums counters over threads and keeps the gauge exact through every kind of disconnect on every thread', async () => {
    const relay = await relayWith(2, { relay: { max_payload_bytes: 100 } });
    const clients = await spread(relay, 2, 12, 3);
    const n = clients.length;
    clients[0]!.send('x');
    await Promise.all(clients.map((c) => c.received(1)));
    // Over every thread: clean closes, TCP drops, and oversize messages (1009).
    const leaving = clients.slice(0, 9);
    await Promise.all(leaving.slice(0, 3).map((c) => c.close(1000)));
    await Promise.all(leaving.slice(3, 6).map((c) => c.terminate()));
    for (const c of leaving.slice(6, 9)) c.send('y'.repeat(101));
    expect((await Promise.all(leaving.slice(6, 9).map((c) => c.closed))).map((c) => c.code)).toEqual([1009, 1009, 1009]);
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_connections_active') === n - 9, 5000, 'the gauge to follow');
    const text = await scrape(relay.metricsUrl);
    const counts = await perThread(relay.metricsUrl, 2);
    expect(counts[0]! + counts[1]!).toBe(n - 9);
    expect(relay.connections).toBe(n - 9);
    expect(metricValue(text, 'relay_connections_total')).toBe(n);
    expect(metricValue(text, 'relay_messages_total')).toBe(1);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'payload_too_big' })).toBe(3);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'client_close' })).toBe(6);
  });

  it('holds max_connections, max_connections_per_ip and max_upgrades_per_second across the process, not per thread', async () => {
    const relay = await relayWith(4, { limits: { max_connections: 6, max_connections_per_ip: 4 } });
    // A burst of simultaneous upgrades over every thread: exactly the cap gets in.
    const attempts = Array.from({ length: 14 }, (_, i) => new TestClient(relay.url, { localAddress: `127.0.0.${2 + (i % 7)}` }));
    onTestFinished(async () => {
      await Promise.all(attempts.map((c) => c.terminate()));
    });
    const results = await Promise.all(attempts.map((c) => c.opened(10_000).then(() => 'open', (e: unknown) => (e instanceof HandshakeRefused ? e.status : 'error'))));
    expect(results.filter((r) => r === 'open')).toHaveLength(6);
    expect(results.filter((r) => r === 503)).toHaveLength(8);
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_upgrades_rejected_total', { reason: 'max_connections' })).toBe(8);
    await Promise.all(attempts.map((c) => c.terminate()));
    await until(async () => relay.connections === 0, 5000, 'every connection to close');

    // Per IP: five from one address over four threads, four get in.
    const same = Array.from({ length: 5 }, () => new TestClient(relay.url, { localAddress: '127.0.0.9' }));
    onTestFinished(async () => {
      await Promise.all(same.map((c) => c.terminate()));
    });
    const perIp = await Promise.all(same.map((c) => c.opened(10_000).then(() => 'open', (e: unknown) => (e instanceof HandshakeRefused ? e.status : 'error'))));
    expect(perIp.filter((r) => r === 'open')).toHaveLength(4);
    expect(perIp.filter((r) => r === 429)).toHaveLength(1);

    const rated = await relayWith(4, { limits: { max_upgrades_per_second: 3 } });
    const started = performance.now();
    const burst = Array.from({ length: 12 }, () => new TestClient(rated.url));
    onTestFinished(async () => {
      await Promise.all(burst.map((c) => c.terminate()));
    });
    const rates = await Promise.all(burst.map((c) => c.opened(10_000).then(() => 'open', (e: unknown) => (e instanceof HandshakeRefused ? e.status : 'error'))));
    const elapsedS = (performance.now() - started) / 1000;
    // One bucket for the process: its burst (a second's worth, 3) and what refills while the burst runs (3/s; four
    // buckets, one per thread, would let 12 in at once).
    const opened = rates.filter((r) => r === 'open').length;
    expect(opened).toBeGreaterThanOrEqual(3);
    expect(opened).toBeLessThanOrEqual(3 + Math.ceil(3 * elapsedS));
    expect(rates.filter((r) => r === 503)).toHaveLength(12 - opened);
  });

  it('with workers: 1 runs no worker thread and exports worker 0 only', async () => {
    const relay = await relayWith(1);
    const clients = await spread(relay, 1, 3);
    const text = await scrape(relay.metricsUrl);
    expect(text).toContain('relay_worker_connections{worker="0"} 3');
    expect(text).not.toContain('worker="1"');
    expect(clients).toHaveLength(3);
  });
});

describe('worker threads: the process', () => {
  const files = configFiles('websocket-relay-workers-');

  it('SIGTERM drains every thread at once: every client gets 1001 and the process exits 0', async () => {
    const run = runCli(['--config-file', files.configFile(`${LOOPBACK}`), '--set', 'server.workers=3']);
    const { ws_port, metrics_port } = await listening(run);
    const relay = { url: `ws://127.0.0.1:${ws_port}`, metricsUrl: `http://127.0.0.1:${metrics_port}/metrics` };
    const clients = await spread(relay, 3, 9, 2);
    run.child.kill('SIGTERM');
    const codes = await Promise.all(clients.map(async (c) => (await within(c.closed, 10_000, 'a 1001')).code));
    expect(new Set(codes)).toEqual(new Set([1001]));
    expect(await within(run.exited, 15_000, 'the relay to exit')).toBe(0);
  });

  it('once the drain has begun, no thread admits a new client, even one that has not closed its listener yet', async () => {
    const run = runCli(['--config-file', files.configFile(`${LOOPBACK}shutdown: { timeout_s: 10 }\n`), '--set', 'server.workers=3']);
    const { ws_port, metrics_port } = await listening(run);
    const relay = { url: `ws://127.0.0.1:${ws_port}`, metricsUrl: `http://127.0.0.1:${metrics_port}/metrics` };
    const clients = await spread(relay, 3, 6);
    run.child.kill('SIGTERM');
    // The first 1001 from any thread: the drain has begun. Every thread is asked at once, the kernel spreads these.
    await Promise.race(clients.map((c) => c.closed));
    const late = await Promise.allSettled(Array.from({ length: 12 }, () => new TestClient(relay.url).opened(5000)));
    for (const attempt of late) {
      if (attempt.status === 'fulfilled') void attempt.value.terminate();
      expect(attempt.status).toBe('rejected');
    }
    expect(await within(run.exited, 12_000, 'the relay to exit')).toBe(0);
  });

  it('a second relay on the same port exits 4 even when both run several threads', async () => {
    const first = runCli(['--config-file', files.configFile(`${LOOPBACK}`), '--set', 'server.workers=2']);
    const { ws_port } = await listening(first);
    const second = runCli(['--config-file', files.configFile(`${LOOPBACK}`), '--set', 'server.workers=2', '--set', `server.port=${ws_port}`]);
    expect(await within(second.exited, 15_000, 'the second relay to exit')).toBe(4);
    expect(second.stderr()).toContain(`cannot listen on 127.0.0.1:${ws_port}`);
  });

  it('a worker thread that fails takes the process down: a clear log line, every client dropped, exit 6', async () => {
    // Thread 1 fails 5 s after it listens: time for the clients below to connect to every thread on a loaded machine.
    const run = runCli(['--config-file', files.configFile(`${LOOPBACK}`), '--set', 'server.workers=2'], { WEBSOCKET_RELAY_FAIL_WORKER_MS: '5000' });
    const { ws_port, metrics_port } = await listening(run);
    const relay = { url: `ws://127.0.0.1:${ws_port}`, metricsUrl: `http://127.0.0.1:${metrics_port}/metrics` };
    const clients = await spread(relay, 2, 6);
    expect(await within(run.exited, 15_000, 'the relay to exit')).toBe(6);
    const closes = await Promise.all(clients.map((c) => within(c.closed, 5000, 'the client to be dropped')));
    expect(closes).toHaveLength(clients.length);
    const fatal = run
      .stdout()
      .split('\n')
      .filter((l) => l.includes('"level":"fatal"'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain('worker thread 1 failed: fault injected');
    // No abort: the process ended through its own exit, not a signal or a native assertion.
    expect(run.stderr()).not.toContain('Assertion failed');
  });
});

const REDIS_SKIP = 'redis-server not on PATH (.ci/run installs it)';
describe.skipIf(REDIS_SERVER === null && process.env['CI'] === undefined)(`worker threads over Redis${REDIS_SERVER === null ? ` (skipped: ${REDIS_SKIP})` : ''}`, () => {
  it('two instances of two threads each act as one relay: every client gets every message once, in order', async () => {
    const redis = await startRedis();
    const config: ConfigInput = { server: { workers: 2 }, cluster: { backplane: 'redis', redis: { url: redis.url } } };
    const [a, b] = await Promise.all([startRelay(config), startRelay(config)]);
    await until(() => a.readiness.ready && b.readiness.ready, 10_000, 'both backplanes to connect');
    const onA = await spread(a, 2, 4);
    const onB = await spread(b, 2, 4);
    const everyone = [...onA, ...onB];
    const senders = [onA[0]!, onA.at(-1)!, onB[0]!, onB.at(-1)!];
    for (let i = 0; i < 50; i++) senders.forEach((s, n) => s.send(`${n}:${i}`));
    await Promise.all(everyone.map((c) => c.received(200, 15_000)));
    for (const c of everyone) {
      expect(c.inbox).toHaveLength(200);
      for (let n = 0; n < senders.length; n++) {
        expect(c.inbox.filter((m) => m.text.startsWith(`${n}:`)).map((m) => m.text)).toEqual(Array.from({ length: 50 }, (_, i) => `${n}:${i}`));
      }
    }
    // One publisher per process: each instance published its own 100 messages once.
    expect(metricValue(await scrape(a.metricsUrl), 'relay_backplane_published_total')).toBe(100);
    expect(metricValue(await scrape(b.metricsUrl), 'relay_backplane_published_total')).toBe(100);
    // And one publisher and one subscriber connection per process, whatever its thread count (plus this probe).
    const probe = new Redis(redis.url);
    onTestFinished(() => void probe.disconnect());
    const clients = String(await probe.call('CLIENT', 'LIST'))
      .split('\n')
      .filter((line) => line.includes('addr='));
    expect(clients).toHaveLength(2 * 2 + 1);
  });
});

describe('worker threads and TLS', () => {
  it('a certificate reload reaches every thread: each new SNI handshake gets the new certificate, old connections keep relaying', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-workers-tls-'));
    const [a, b] = [selfSigned(dir, 'a'), selfSigned(dir, 'b')];
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    copyFileSync(a.cert, cert);
    copyFileSync(a.key, key);
    const relay = await startReloadable({ server: { workers: 2, tls: { cert_file: cert, key_file: key, watch: false } } });
    const tls = { ca: [readFileSync(a.cert), readFileSync(b.cert)], servername: 'localhost' } as ClientOptions;
    const fingerprint = (c: TestClient): string => ((c.ws as unknown as { _socket: TLSSocket })._socket).getPeerCertificate().fingerprint256;
    const before = await spreadTls(relay, tls);
    expect(new Set(before.map(fingerprint))).toEqual(new Set([a.fp]));

    copyFileSync(b.cert, cert);
    copyFileSync(b.key, key);
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true });
    const after = await spreadTls(relay, tls);
    expect(new Set(after.map(fingerprint))).toEqual(new Set([b.fp]));
    // The connections made before, on both threads, still relay.
    after[0]!.send('after the rotation');
    await Promise.all(before.map((c) => c.received(1)));
  });
});

/** wss clients until both threads hold some of them (with SNI, as a client that connects by name). */
async function spreadTls(relay: ReloadableRelay, tls: ClientOptions): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  onTestFinished(async () => {
    await Promise.all(clients.map((c) => c.terminate()));
  });
  const start = await perThread(relay.metricsUrl, 2);
  for (let round = 0; round < 40; round++) {
    const c = await new TestClient(relay.url, tls).opened();
    clients.push(c);
    const now = await perThread(relay.metricsUrl, 2);
    if (clients.length >= 4 && now.every((n, i) => n > (start[i] ?? 0))) return clients;
  }
  throw new Error('TLS clients never reached both threads');
}
