// Cluster mode: two or three relay instances in this process share a real redis-server and act as one relay.
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { EnvelopeWriter, ORIGIN_BYTES } from '../../src/cluster/envelope.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { runCliToExit } from '../helpers/cli.js';
import { TestClient } from '../helpers/client.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { freePort, REDIS_SERVER, startRedis } from '../helpers/redis.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { until } from '../helpers/wait.js';

/** Starts one relay on the Redis at `url` and waits until its backplane is subscribed. */
async function instance(url: string, overrides: ConfigInput = {}, logger?: Logger): Promise<TestRelay> {
  const relay = await startRelay(
    { ...overrides, cluster: { ...overrides.cluster, backplane: 'redis', redis: { ...overrides.cluster?.redis, url } } },
    logger ? { logger } : {},
  );
  await until(() => relay.readiness.ready, 10_000, 'the backplane to connect');
  return relay;
}

async function client(url: string): Promise<TestClient> {
  const c = new TestClient(url);
  onTestFinished(async () => {
    await c.terminate();
  });
  return c.opened();
}

async function metric(relay: TestRelay, name: string, labels?: Record<string, string>): Promise<number | undefined> {
  return metricValue(await scrape(relay.metricsUrl), name, labels);
}

const texts = (c: TestClient): string[] => c.inbox.map((m) => (m.isBinary ? `bin:${m.data.toString('hex')}` : m.text));

const SKIP_REASON = 'redis-server not on PATH (Debian/Ubuntu: apt-get install redis-server; .ci/run installs it)';
/** In CI a missing redis-server is a failure, never a skip. */
const REQUIRED = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';

if (REDIS_SERVER === null) {
  process.stderr.write(`cluster tests skipped: ${SKIP_REASON}\n`);
  describe.runIf(REQUIRED)('cluster over a real redis-server (required: CI is set)', () => {
    it('finds redis-server on PATH', () => {
      expect.fail(`CI must run the cluster tests, but ${SKIP_REASON}`);
    });
  });
}

const title = REDIS_SERVER === null ? `cluster over a real redis-server (skipped: ${SKIP_REASON})` : 'cluster over a real redis-server';
describe.skipIf(REDIS_SERVER === null)(title, () => {
  it('delivers text and binary from one instance to clients of another exactly once, and never doubles own messages', async () => {
    const redis = await startRedis();
    const [a, b] = await Promise.all([instance(redis.url), instance(redis.url)]);
    const a1 = await client(a.url);
    const b1 = await client(b.url);

    a1.send('hello');
    a1.send(Buffer.from([0, 1, 2, 0xff]), true);
    a1.send('a-last');
    // Per-sender order: once a-last is at B, everything a1 sent before it is too.
    await until(() => texts(b1).includes('a-last'), 5000, 'a-last at B');
    b1.send('b-last');
    // b-last was published after B received a1's envelopes, so any copy of a1's own messages coming back to A
    // through Redis would reach a1 before b-last does.
    await until(() => texts(a1).includes('b-last'), 5000, 'b-last at A');

    expect(texts(b1)).toEqual(['hello', 'bin:000102ff', 'a-last', 'b-last']);
    expect(b1.inbox[1]?.isBinary).toBe(true);
    expect(b1.inbox[0]?.isBinary).toBe(false);
    expect(texts(a1)).toEqual(['hello', 'bin:000102ff', 'a-last', 'b-last']);
    expect(await metric(a, 'relay_backplane_published_total')).toBe(3);
    expect(await metric(b, 'relay_backplane_received_total')).toBe(3);
    expect(await metric(b, 'relay_backplane_delivered_total')).toBe(3);
    expect(await metric(a, 'relay_backplane_received_total')).toBe(1);
    // one observation per envelope: the three messages went in one to three envelopes
    expect(await metric(b, 'relay_backplane_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(await metric(b, 'relay_backplane_latency_seconds_count')).toBeLessThanOrEqual(3);
    expect(await metric(a, 'relay_backplane_connected')).toBe(1);
  });

  it('delivers every message exactly once to every client of three instances (no relay loops)', async () => {
    const redis = await startRedis();
    const relays = await Promise.all([instance(redis.url), instance(redis.url), instance(redis.url)]);
    const clients = await Promise.all(relays.map((r) => client(r.url)));
    const names = ['a', 'b', 'c'];

    clients.forEach((c, i) => c.send(`data-${names[i]}`));
    await Promise.all(clients.map((c) => until(() => names.every((n) => texts(c).includes(`data-${n}`)), 5000, 'all data')));
    // Each end-X is sent after X's client saw all data: a copy re-published by X's instance would already be on its way before it.
    clients.forEach((c, i) => c.send(`end-${names[i]}`));
    await Promise.all(clients.map((c) => until(() => names.every((n) => texts(c).includes(`end-${n}`)), 5000, 'all ends')));

    for (const c of clients) {
      expect(texts(c).sort()).toEqual(['data-a', 'data-b', 'data-c', 'end-a', 'end-b', 'end-c']);
    }
  });

  it('keeps rooms isolated across instances', async () => {
    const redis = await startRedis();
    const rooms = { relay: { rooms: true } };
    const [a, b] = await Promise.all([instance(redis.url, rooms), instance(redis.url, rooms)]);
    const ax = await client(`${a.url}/x`);
    const ay = await client(`${a.url}/y`);
    const az = await client(`${a.url}/z`); // nobody is in /z on B
    const bx = await client(`${b.url}/x`);
    const by = await client(`${b.url}/y`);

    ax.send('to-x');
    await bx.received(1);
    ay.send('to-y');
    await by.received(1);
    az.send('to-z');
    ax.send('to-x-again');
    await bx.received(2);
    // A's clients may sit on different threads of A, each forwarding to A's one publisher connection: to-z and
    // to-x-again keep no order between them. B reads four messages off the backplane; three reach a local subscriber.
    await until(async () => (await metric(b, 'relay_backplane_received_total')) === 4, 5000, 'B to read to-z off the backplane');
    expect(await metric(b, 'relay_backplane_delivered_total')).toBe(3);
    expect(texts(bx)).toEqual(['to-x', 'to-x-again']);
    expect(texts(by)).toEqual(['to-y']);
  });

  it('counts an unreadable envelope once, in envelopes, after delivering the records before the damage', async () => {
    const redis = await startRedis();
    const b = await instance(redis.url);
    const b1 = await client(b.url);
    const writer = new EnvelopeWriter(Buffer.alloc(ORIGIN_BYTES, 7));
    for (const text of ['first', 'second', 'third']) writer.add('relay', Buffer.from(text), false, Date.now());
    const whole = writer.take();
    const publisher = new Redis(redis.url);
    onTestFinished(() => publisher.disconnect());
    await publisher.publish('websocket-relay:messages', whole.subarray(0, whole.length - 3)); // third record cut short
    await publisher.publish('websocket-relay:messages', Buffer.from('not an envelope'));
    writer.add('relay', Buffer.from('after'), false, Date.now());
    await publisher.publish('websocket-relay:messages', writer.take());
    await b1.received(3);

    expect(texts(b1)).toEqual(['first', 'second', 'after']);
    expect(await metric(b, 'relay_backplane_malformed_envelopes_total')).toBe(2);
    expect(await metric(b, 'relay_backplane_received_total')).toBe(3);
    expect(await metric(b, 'relay_backplane_delivered_total')).toBe(3);
    for (const reason of ['disconnected', 'backpressure', 'error']) expect(await metric(b, 'relay_backplane_dropped_total', { reason }), reason).toBe(0);
  });

  it('keeps echo: false across instances: the sender alone does not get its message back', async () => {
    const redis = await startRedis();
    const noEcho = { relay: { echo: false } };
    const [a, b] = await Promise.all([instance(redis.url, noEcho), instance(redis.url, noEcho)]);
    const a1 = await client(a.url);
    const a2 = await client(a.url);
    const b1 = await client(b.url);

    a1.send('from-a1');
    await b1.received(1);
    await a2.received(1);
    b1.send('from-b1');
    // from-b1 was published after B had a1's message, so a copy of a1's own message would have come first.
    await a1.received(1);
    await a2.received(2);

    expect(texts(a1)).toEqual(['from-b1']);
    expect(texts(a2)).toEqual(['from-a1', 'from-b1']);
    expect(texts(b1)).toEqual(['from-a1']);
  });

  it('keeps the order of one sender across 1,000 messages', async () => {
    const redis = await startRedis();
    const [a, b] = await Promise.all([instance(redis.url), instance(redis.url)]);
    const sender = await client(a.url);
    const receiver = await client(b.url);

    const count = 1000;
    for (let i = 0; i < count; i++) sender.send(String(i));
    await receiver.received(count, 15_000);

    expect(texts(receiver)).toEqual(Array.from({ length: count }, (_, i) => String(i)));
    expect(await metric(b, 'relay_backplane_received_total')).toBe(count);
    const envelopes = (await metric(b, 'relay_backplane_latency_seconds_count')) ?? 0;
    expect(envelopes).toBeGreaterThanOrEqual(1); // batched: one observation per envelope
    expect(envelopes).toBeLessThanOrEqual(count);
    expect(await metric(a, 'relay_backplane_dropped_total', { reason: 'disconnected' })).toBe(0);
  });

  it('survives Redis dying mid-stream: local relaying goes on, /readyz is 503, drops are counted; and recovers when Redis returns', async () => {
    const redis = await startRedis();
    const logged: { level: string; msg: string }[] = [];
    const logger = createLogger('debug', { write: (line: string) => void logged.push(JSON.parse(line) as { level: string; msg: string }) });
    const [a, b] = await Promise.all([instance(redis.url, {}, logger), instance(redis.url)]);
    const a1 = await client(a.url);
    const a2 = await client(a.url);
    const b1 = await client(b.url);

    // A stream of messages from a1 is in flight when Redis dies.
    let sent = 0;
    let pumping = true;
    const pump = (): void => {
      if (!pumping || a1.ws.readyState !== a1.ws.OPEN) return;
      a1.send(`m${sent++}`);
      setImmediate(pump);
    };
    pump();
    await until(() => b1.inbox.length > 10, 5000, 'cross-instance traffic before the crash');
    await redis.kill('SIGKILL');

    for (const relay of [a, b]) {
      await until(async () => (await fetch(`${relay.http}/readyz`)).status === 503, 10_000, '/readyz 503');
      expect(await (await fetch(`${relay.http}/readyz`)).text()).toContain('backplane: redis unreachable');
      expect(await metric(relay, 'relay_backplane_connected')).toBe(0);
    }
    const sentAtOutage = sent;
    await until(() => a2.inbox.length >= sentAtOutage + 20, 5000, 'local delivery while Redis is down');
    pumping = false;
    await until(async () => ((await metric(a, 'relay_backplane_dropped_total', { reason: 'disconnected' })) ?? 0) > 0, 5000, 'drops counted');

    // B's own clients still talk to each other.
    const b2 = await client(b.url);
    b1.send('b-local');
    await until(() => texts(b2).includes('b-local'), 5000, 'local delivery on B');

    // Redis comes back on the same port: both instances reconnect and resubscribe by themselves.
    const restartedAt = Date.now();
    await startRedis(redis.port);
    for (const relay of [a, b]) await until(() => relay.readiness.ready, 10_000, 'the backplane to reconnect');
    expect((await fetch(`${a.http}/readyz`)).status).toBe(200);
    expect(await metric(b, 'relay_backplane_connected')).toBe(1);
    a1.send('after-recovery');
    await until(() => texts(b1).includes('after-recovery'), 5000, 'cross-instance delivery after recovery');
    expect(Date.now() - restartedAt).toBeLessThan(5000);
    // Nothing the sender sent during the outage crossed over later (no buffering).
    const bSeen = texts(b1).filter((t) => t.startsWith('m'));
    expect(bSeen.length).toBeLessThan(sent);
    // One line when Redis went away and one when it came back, however many messages and retries happened between.
    const above = (level: string): boolean => level !== 'debug' && level !== 'trace';
    const backplaneLines = logged.filter((l) => above(l.level) && l.msg.startsWith('redis backplane')).map((l) => `${l.level}: ${l.msg}`);
    expect(backplaneLines).toEqual([
      'info: redis backplane connecting',
      'info: redis backplane connected',
      'warn: redis backplane disconnected: relaying to local clients only, cross-instance messages are dropped until it returns',
      'info: redis backplane reconnected: cross-instance delivery resumed',
    ]);
  });

  it('notices a Redis that stops answering without closing the connection, and recovers when it answers again', async () => {
    const redis = await startRedis();
    const fast = { cluster: { redis: { health_check_interval_s: 0.2 } } };
    const [a, b] = await Promise.all([instance(redis.url, fast), instance(redis.url, fast)]);
    const a1 = await client(a.url);
    const b1 = await client(b.url);
    const probe = new Redis(redis.url, { lazyConnect: true });
    onTestFinished(() => probe.disconnect());
    await probe.connect();

    // Every client's commands hang, as with a frozen server or a half-open TCP connection: no close event ever comes.
    await probe.call('CLIENT', 'PAUSE', '4000', 'ALL');
    for (const relay of [a, b]) await until(() => !relay.readiness.ready, 3000, 'the health check to notice');
    expect(await metric(a, 'relay_backplane_connected')).toBe(0);

    for (const relay of [a, b]) await until(() => relay.readiness.ready, 10_000, 'the backplane to recover');
    a1.send('after-pause');
    await until(() => texts(b1).includes('after-pause'), 5000, 'cross-instance delivery after the pause');
  });

  it('retries a connection whose handshake a frozen Redis never answers, and joins once Redis resumes', async () => {
    const redis = await startRedis();
    process.kill(redis.pid, 'SIGSTOP'); // accepts TCP (the kernel does), answers nothing
    onTestFinished(() => void process.kill(redis.pid, 'SIGCONT'));
    const relay = await startRelay({
      cluster: { backplane: 'redis', redis: { url: redis.url, connect_timeout_s: 0.5, health_check_interval_s: 0.2 } },
    });
    // ioredis's own connect timeout ends at the TCP connect; only the relay's handshake deadline gets past it.
    await until(() => relay.readiness.describe().includes('redis unreachable'), 10_000, 'the stuck handshake to be noticed');
    process.kill(redis.pid, 'SIGCONT');
    await until(() => relay.readiness.ready, 15_000, 'the backplane to connect once Redis answers');
  });

  it('drops instead of queueing once max_pending_bytes await Redis, and accounts for every message', async () => {
    const redis = await startRedis();
    const small = { cluster: { redis: { max_pending_bytes: 64 * 1024, health_check_interval_s: 0 } } };
    const [a, b] = await Promise.all([instance(redis.url, small), instance(redis.url, small)]);
    const a1 = await client(a.url);
    const b1 = await client(b.url);
    const probe = new Redis(redis.url, { lazyConnect: true });
    onTestFinished(() => probe.disconnect());
    await probe.connect();

    // Redis takes the PUBLISHes but answers none for a while: the unacknowledged bytes pile up on A's side.
    await probe.call('CLIENT', 'PAUSE', '3000', 'ALL');
    const count = 200;
    const payload = 'x'.repeat(1024);
    for (let i = 0; i < count; i++) a1.send(payload);
    await a1.received(count);
    const dropped = async (): Promise<number> => (await metric(a, 'relay_backplane_dropped_total', { reason: 'backpressure' })) ?? 0;
    // a1's echoes come from its own uWS thread; the copies for Redis may still be on their way to A's main thread.
    await until(async () => (await dropped()) > 0, 5000, 'A to drop what does not fit in max_pending_bytes');

    // Once Redis answers again, every message is either published or counted as dropped, and only the published cross.
    await until(async () => ((await metric(a, 'relay_backplane_published_total')) ?? 0) + (await dropped()) === count, 10_000, 'every message accounted for');
    const published = (await metric(a, 'relay_backplane_published_total')) ?? 0;
    expect(published).toBeLessThanOrEqual(64 + 1); // 64 KiB of ~1 KiB envelopes (+1: the check runs before adding)
    await until(() => b1.inbox.length === published, 5000, 'the published messages at B');
  });

  it('unsubscribes and closes both Redis connections when an instance shuts down', async () => {
    const redis = await startRedis();
    const a = await instance(redis.url);
    const probe = new Redis(redis.url, { lazyConnect: true });
    onTestFinished(() => probe.disconnect());
    await probe.connect();
    const relayClients = async (): Promise<string[]> =>
      (String(await probe.call('CLIENT', 'LIST')).match(/name=websocket-relay:\S+/g) ?? []).sort();
    expect(await relayClients()).toHaveLength(2);
    expect(await probe.call('PUBSUB', 'NUMSUB', 'websocket-relay:messages')).toEqual(['websocket-relay:messages', 1]);

    await a.close();

    expect(await probe.call('PUBSUB', 'NUMSUB', 'websocket-relay:messages')).toEqual(['websocket-relay:messages', 0]);
    await until(async () => (await relayClients()).length === 0, 5000, 'the relay connections to close');
  });
});

describe('cluster without a reachable Redis', () => {
  it('serves local clients, reports not ready and counts drops when Redis is unreachable', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const relay = await startRelay({ cluster: { backplane: 'redis', redis: { url } } });
    const a = await client(relay.url);
    const b = await client(relay.url);
    a.send('local');
    await b.received(1);

    const ready = await fetch(`${relay.http}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/backplane: (connecting to redis|redis unreachable)/);
    await until(async () => (await (await fetch(`${relay.http}/readyz`)).text()).includes('backplane: redis unreachable'), 5000, 'the first failed attempt');
    expect(await metric(relay, 'relay_backplane_connected')).toBe(0);
    expect(await metric(relay, 'relay_backplane_dropped_total', { reason: 'disconnected' })).toBe(1);
  });

  it('stays ready when ready_requires_backplane is false', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const relay = await startRelay({ cluster: { backplane: 'redis', ready_requires_backplane: false, redis: { url } } });
    expect((await fetch(`${relay.http}/readyz`)).status).toBe(200);
    expect(await metric(relay, 'relay_backplane_connected')).toBe(0);
  });

  it('has no backplane series with the default backplane: none', async () => {
    const relay = await startRelay();
    expect(await metric(relay, 'relay_backplane_connected')).toBeUndefined();
  });

  it('exits with code 2 and names the key when cluster.redis.url is invalid', async () => {
    const { code, stderr } = await runCliToExit([], {
      RELAY_CLUSTER__BACKPLANE: 'redis',
      RELAY_CLUSTER__REDIS__URL: 'http://127.0.0.1:6379',
      RELAY_SERVER__PORT: '0',
      RELAY_METRICS__PORT: '0',
    });
    expect(code).toBe(2);
    expect(stderr).toContain('cluster.redis.url: must be a redis:// or rediss:// URL');
    expect(stderr).toContain('(from RELAY_CLUSTER__REDIS__URL)');
  });
});
