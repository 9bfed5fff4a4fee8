// server.workers at its edges: churn while several senders publish, a room's last subscriber on a thread replaced
// during a burst, process-wide caps under simultaneous bursts with an asynchronous admission, token expiry on a worker
// thread, the counts a scrape gives after a shutdown, and the embedding API with several threads.
import { SignJWT } from 'jose';
import { describe, expect, it, onTestFinished } from 'vitest';
import { start } from '../../src/index.js';
import { FAULT_ENV } from '../../src/workers/protocol.js';
import { buildExtensions } from '../../src/extensions.js';
import { createLogger } from '../../src/logger.js';
import { LOOPBACK, configFiles, runCli } from '../helpers/cli.js';
import { HandshakeRefused, TestClient, type Received } from '../helpers/client.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { RawSocket, SAMPLE_KEY } from '../helpers/raw.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { until, within } from '../helpers/wait.js';

/** Connections open on each thread, from relay_worker_connections. */
async function perThread(relay: TestRelay): Promise<number[]> {
  const text = await scrape(relay.metricsUrl);
  return Array.from({ length: relay.workers }, (_, i) => metricValue(text, 'relay_worker_connections', { worker: String(i) }) ?? 0);
}

/** Opens one client at a time and returns it with the thread that took it (read from relay_worker_connections). */
async function openTracked(relay: TestRelay, path = '/', options?: ConstructorParameters<typeof TestClient>[1]): Promise<{ client: TestClient; thread: number }> {
  const before = await perThread(relay);
  const client = new TestClient(`${relay.url}${path}`, options);
  onTestFinished(async () => {
    await client.terminate();
  });
  await client.opened(10_000);
  const after = await perThread(relay);
  const thread = after.findIndex((n, i) => n > (before[i] ?? 0));
  if (thread < 0) throw new Error(`no thread took the client: ${before.join('/')} -> ${after.join('/')}`);
  return { client, thread };
}

/**
 * Opens clients until every thread holds `each`; returns them grouped by thread. The kernel picks each client's
 * thread, so how many opens that takes varies: `path` may be a function, called for each client.
 */
async function onEveryThread(
  relay: TestRelay,
  each: number,
  path: string | (() => Promise<string>) = '/',
  options?: ConstructorParameters<typeof TestClient>[1],
): Promise<TestClient[][]> {
  const byThread: TestClient[][] = Array.from({ length: relay.workers }, () => []);
  for (let n = 0; n < 60 * relay.workers * each; n++) {
    if (byThread.every((list) => list.length >= each)) return byThread;
    const { client, thread } = await openTracked(relay, typeof path === 'string' ? path : await path(), options);
    byThread[thread]?.push(client);
  }
  throw new Error(`clients never reached every thread: ${byThread.map((l) => l.length).join('/')}`);
}

/** Per sender (the first field of "sender:seq"), the sequence numbers in arrival order. */
function bySender(inbox: readonly Received[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of inbox) {
    const [sender, seq] = m.text.split(':');
    const list = out.get(sender ?? '') ?? [];
    list.push(Number(seq));
    out.set(sender ?? '', list);
  }
  return out;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('worker threads under churn', () => {
  it.each([
    { rooms: false, echo: true },
    { rooms: true, echo: false },
  ])('three senders, clients joining and leaving on every thread: exactly once and in order for those who stay, never a duplicate (%o)', async (relayKeys) => {
    const relay = await startRelay({ server: { workers: 3 }, relay: relayKeys });
    const stay = (await onEveryThread(relay, 2, '/r')).flat();
    const senders = stay.slice(0, 3);
    const perSender = 300;
    const churned: TestClient[] = [];
    onTestFinished(async () => {
      await Promise.all(churned.map((c) => c.terminate()));
    });
    // Churn: every few turns a client joins the room and an earlier one leaves (a clean close or a TCP drop).
    let sending = true;
    const churn = (async () => {
      for (let i = 0; sending && i < 200; i++) {
        const c = new TestClient(`${relay.url}/r`);
        churned.push(c);
        await c.opened(10_000).catch(() => undefined);
        const leaving = churned[i - 2];
        if (leaving !== undefined) await (i % 2 === 0 ? leaving.close(1000) : leaving.terminate()).catch(() => undefined);
      }
    })();
    for (let i = 0; i < perSender; i++) {
      senders.forEach((s, n) => s.send(`${n}:${i}`));
      if (i % 10 === 0) await turn();
    }
    sending = false;
    await churn;
    const expected = Array.from({ length: perSender }, (_, i) => i);
    for (const c of stay) {
      const own = senders.indexOf(c);
      const want = relayKeys.echo || own < 0 ? 3 * perSender : 2 * perSender;
      await c.received(want, 20_000);
      const got = bySender(c.inbox);
      for (let n = 0; n < senders.length; n++) {
        if (n === own && !relayKeys.echo) expect(got.has(String(n))).toBe(false);
        else expect(got.get(String(n))).toEqual(expected);
      }
      expect(c.inbox).toHaveLength(want);
    }
    // Whoever came and went got, per sender, an increasing run: nothing twice, nothing out of order.
    for (const c of churned) {
      for (const seqs of bySender(c.inbox).values()) {
        for (let k = 1; k < seqs.length; k++) expect(seqs[k]).toBeGreaterThan(seqs[k - 1] as number);
      }
    }
  });

  it("with rooms, a thread whose only subscriber of a room leaves and another joins mid-burst: the newcomer gets everything sent after it joined, in order", async () => {
    const relay = await startRelay({ server: { workers: 2 }, relay: { rooms: true } });
    // The sender on thread 0, the room's only subscriber on thread 1; a client of another room keeps thread 1 busy.
    const mainSide = await onEveryThread(relay, 1, '/r');
    const sender = mainSide[0]![0]!;
    let only = mainSide[1]![0]!;
    const perRound = 200;
    for (let round = 0; round < 4; round++) {
      // The burst runs in the background while the only subscriber on thread 1 is replaced: at most 20,000 messages
      // before the newcomer joins (on a loaded machine, finding a client that lands on thread 1 may take longer than
      // that: the burst then waits for it), and 20,000 after.
      let seq = 0;
      let joinedAt = -1;
      let stop = false;
      let wake = (): void => {};
      const joinedOrStopped = new Promise<void>((resolve) => (wake = resolve));
      const burst = (async () => {
        while (!stop) {
          if (seq >= (joinedAt < 0 ? 0 : joinedAt) + 20_000) {
            if (joinedAt >= 0) break;
            await joinedOrStopped;
            continue;
          }
          for (let k = 0; k < 20; k++) sender.send(`s:${round * 1_000_000 + seq++}`);
          await turn();
        }
      })();
      let next: { client: TestClient; thread: number };
      try {
        await within(only.received(20), 10_000, 'the old subscriber to get part of the burst');
        await only.close(1000);
        do next = await openTracked(relay, '/r');
        while (next.thread !== 1 && (await next.client.close(1000)));
        joinedAt = seq;
        wake();
        await within(next.client.received(perRound), 10_000, 'the newcomer to get the burst');
      } finally {
        stop = true;
        wake();
        await burst;
      }
      const last = round * 1_000_000 + seq - 1;
      sender.send(`s:${last + 1}`);
      await until(() => next.client.inbox.at(-1)?.text === `s:${last + 1}`, 10_000, 'the last message of the round');
      const seqs = bySender(next.client.inbox).get('s') ?? [];
      // Every message the sender sent after the newcomer was open, in order, each once.
      const from = seqs.indexOf(round * 1_000_000 + joinedAt);
      expect(from).toBeGreaterThanOrEqual(0);
      const after = seqs.slice(from);
      expect(after).toEqual(Array.from({ length: after.length }, (_, i) => round * 1_000_000 + joinedAt + i));
      expect(after.at(-1)).toBe(last + 1);
      only = next.client;
    }
  });
});

describe('worker threads: the per-thread gauge', () => {
  it('relay_worker_connections sums to relay_connections_active in every scrape while clients come and go on every thread', async () => {
    const relay = await startRelay({ server: { workers: 3 } });
    const live: TestClient[] = [];
    onTestFinished(async () => {
      await Promise.all(live.map((c) => c.terminate()));
    });
    let going = true;
    const churn = (async () => {
      for (let i = 0; going && i < 400; i++) {
        const batch = Array.from({ length: 5 }, () => new TestClient(relay.url));
        live.push(...batch);
        await Promise.all(batch.map((c) => c.opened(10_000).catch(() => undefined)));
        await Promise.all(live.splice(0, 3).map((c, k) => (k === 0 ? c.terminate() : c.close(1000)).catch(() => undefined)));
      }
    })();
    const mismatches: string[] = [];
    for (let s = 0; s < 50; s++) {
      const text = await scrape(relay.metricsUrl);
      const active = metricValue(text, 'relay_connections_active');
      const sum = [0, 1, 2].reduce((a, i) => a + (metricValue(text, 'relay_worker_connections', { worker: String(i) }) ?? 0), 0);
      if (sum !== active) mismatches.push(`${String(active)} vs ${sum}`);
    }
    going = false;
    await churn;
    expect(mismatches).toEqual([]);
  });
});

describe('worker threads: caps and credentials across threads', () => {
  const SECRET = 'a-test-secret-that-is-at-least-32-characters';
  const sign = (exp: number): Promise<string> =>
    new SignJWT({ sub: 'x', exp }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(SECRET));
  const outcome = (c: TestClient): Promise<string | number> =>
    c.opened(15_000).then(
      () => 'open',
      (e: unknown) => (e instanceof HandshakeRefused ? e.status : 'error'),
    );

  it('max_connections holds exactly under one simultaneous burst over 4 threads, with JWT admission', async () => {
    const relay = await startRelay({
      server: { workers: 4 },
      limits: { max_connections: 17, max_connections_per_ip: 0 },
      security: { auth: 'jwt', jwt: { secret: SECRET } },
    });
    const token = await sign(Math.floor(Date.now() / 1000) + 600);
    const attempts = Array.from({ length: 45 }, (_, i) => new TestClient(`${relay.url}/?token=${token}`, { localAddress: `127.0.0.${2 + (i % 9)}` }));
    onTestFinished(async () => {
      await Promise.all(attempts.map((c) => c.terminate()));
    });
    const results = await Promise.all(attempts.map(outcome));
    // More than 17 opens means either the cap let an 18th in (the relay holds more than 17) or a socket opened and was
    // closed during the burst, freeing its place (the relay counts a disconnection; the client saw its close).
    const counts = await perThread(relay);
    const text = await scrape(relay.metricsUrl);
    const closes = text.split('\n').filter((l) => l.startsWith('relay_disconnections_total') && !l.endsWith(' 0'));
    const closedEarly = attempts.filter((c, i) => results[i] === 'open' && c.ws.readyState !== c.ws.OPEN);
    const story =
      `${results.filter((r) => r === 'open').length} opened, ${results.filter((r) => r === 503).length} refused with 503; ` +
      `the relay holds ${relay.connections} (per thread ${counts.join('/')}), accepted ${metricValue(text, 'relay_connections_total')}; ` +
      `server-side closes: [${closes.join(', ')}]; opened clients closed since: ${closedEarly.length}`;
    expect(relay.connections, story).toBe(17);
    expect(counts.reduce((a, b) => a + b, 0), story).toBe(17);
    expect(closes, story).toEqual([]);
    expect(results.filter((r) => r === 'open'), story).toHaveLength(17);
    expect(results.filter((r) => r === 503), story).toHaveLength(28);
    expect(metricValue(text, 'relay_connections_active'), story).toBe(17);
  });

  it('max_connections_per_ip holds across threads while the JWT admission answers asynchronously', async () => {
    const relay = await startRelay({
      server: { workers: 4 },
      limits: { max_connections_per_ip: 3 },
      security: { auth: 'jwt', jwt: { secret: SECRET } },
    });
    const token = await sign(Math.floor(Date.now() / 1000) + 600);
    for (let round = 0; round < 3; round++) {
      const attempts = Array.from({ length: 10 }, () => new TestClient(`${relay.url}/?token=${token}`, { localAddress: '127.0.0.7' }));
      onTestFinished(async () => {
        await Promise.all(attempts.map((c) => c.terminate()));
      });
      const results = await Promise.all(attempts.map(outcome));
      expect(results.filter((r) => r === 'open')).toHaveLength(3);
      expect(results.filter((r) => r === 429)).toHaveLength(7);
      await Promise.all(attempts.map((c) => c.terminate()));
      await until(() => relay.connections === 0, 5000, 'every connection to close');
    }
  });

  it('a token that expires ends its socket with 4001 on every thread, and each thread forgets it', async () => {
    const relay = await startRelay({ server: { workers: 3 }, security: { auth: 'jwt', jwt: { secret: SECRET, clock_tolerance_s: 0 } } });
    const long = await sign(Math.floor(Date.now() / 1000) + 600);
    // Each client's token is signed as it connects, valid 4 to 5 s from then: however long reaching every thread
    // takes on a loaded machine, none has expired before its handshake.
    const expiring = (await onEveryThread(relay, 1, async () => `/?token=${await sign(Math.floor(Date.now() / 1000) + 5)}`)).flat();
    const staying = await openTracked(relay, `/?token=${long}`);
    const closes = await Promise.all(expiring.map((c) => within(c.closed, 10_000, 'the expiry close')));
    expect(closes.map((c) => c.code)).toEqual(expiring.map(() => 4001));
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_disconnections_total', { reason: 'token_expired' }) === expiring.length, 5000, 'the closes counted');
    expect(relay.connections).toBe(1);
    staying.client.send('still here');
    expect((await staying.client.received(1))[0]?.text).toBe('still here');
  });
});

describe('worker threads: shutdown and the embedding API', () => {
  it('a scrape after close() still counts every disconnection on every thread', async () => {
    const relay = await startRelay({ server: { workers: 3 } });
    const clients = (await onEveryThread(relay, 2)).flat();
    const before = metricValue(await scrape(relay.metricsUrl), 'relay_connections_total') ?? 0;
    await within(Promise.all([relay.close(), ...clients.map((c) => c.closed)]), 15_000, 'the shutdown');
    const text = await relay.scrape();
    expect(metricValue(text, 'relay_connections_total')).toBe(before);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'shutdown' })).toBe(clients.length);
    expect(metricValue(text, 'relay_connections_active')).toBe(0);
  });

  it('during a shutdown with stuck clients on worker threads, every scrape answers and no counter goes down', async () => {
    const relay = await startRelay({ server: { workers: 3 } });
    const clients = Array.from({ length: 12 }, () => new TestClient(relay.url));
    onTestFinished(async () => {
      await Promise.all(clients.map((c) => c.terminate()));
    });
    await Promise.all(clients.map((c) => c.opened()));
    // Handshake done, then never read again: they never answer their 1001, so their threads wait out the grace.
    for (let i = 0; i < 12; i++) {
      const s = await RawSocket.open(relay.wsPort);
      s.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      await s.until((b) => b.includes('\r\n\r\n'), 5000, 'the 101');
      s.socket.pause();
    }
    clients[0]!.send('x');
    await Promise.all(clients.map((c) => c.received(1)));
    const names = ['relay_connections_total', 'relay_messages_total', 'relay_deliveries_total', 'relay_disconnections_total'];
    const read = async (): Promise<number[]> => {
      const text = await within(relay.scrape(), 5000, 'a scrape');
      const sum = (name: string): number =>
        text
          .split('\n')
          .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
          .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
      return names.map(sum);
    };
    // A thread that holds only stuck clients counts its deliveries when the message reaches it over its link, which
    // no client of the test can see: the 12 above may all sit on the other threads.
    await until(async () => (await read())[2] === 24, 5000, 'every delivery counted');
    let last = await read();
    expect(last).toEqual([24, 1, 24, 0]);
    const closing = relay.close();
    for (let i = 0; i < 10; i++) {
      const now = await read();
      now.forEach((v, k) => expect(v, names[k]).toBeGreaterThanOrEqual(last[k] as number));
      last = now;
    }
    await within(closing, 15_000, 'the shutdown');
    expect(await read()).toEqual([24, 1, 24, 24]);
  });

  it('answers a scrape while a paced drain runs on every thread, with every thread counted', async () => {
    const relay = await startRelay({ server: { workers: 2 }, shutdown: { drain_spread_s: 6, timeout_s: 12 } });
    const clients = (await onEveryThread(relay, 3)).flat();
    clients[0]!.send('x');
    await Promise.all(clients.map((c) => c.received(1)));
    const closing = relay.close();
    // The drain has begun once the first client has its 1001; the last ones get theirs about 6 s later.
    await within(Promise.race(clients.map((c) => c.closed)), 10_000, 'the first 1001');
    const res = await within(fetch(relay.metricsUrl), 3000, 'a scrape during the drain');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(metricValue(text, 'relay_connections_total')).toBe(clients.length);
    expect(metricValue(text, 'relay_deliveries_total')).toBe(clients.length);
    await relay.terminate();
    await within(closing, 10_000, 'the shutdown');
  });

  it('refuses a custom limiter with several threads; close() twice and terminate() after it are safe', async () => {
    const config = testConfig({ server: { workers: 2 } });
    const logger = createLogger('silent');
    const limiter = { create: () => null, check: () => ({ action: 'relay' as const }) };
    await expect(start(config, { logger, extensions: () => ({ limiter }) })).rejects.toThrow(/server\.workers/);
    const relay = await start(config, { logger, extensions: buildExtensions });
    const client = new TestClient(`ws://127.0.0.1:${relay.wsPort}`);
    await client.opened();
    await within(Promise.all([relay.close(), relay.close()]), 15_000, 'two closes');
    await within(relay.close(), 5000, 'a third close');
    await within(relay.terminate(), 5000, 'terminate after close');
    expect((await client.closed).code).toBe(1001);
  });
});

describe('worker threads: a thread that fails while the others are still starting', () => {
  const files = configFiles('websocket-relay-workers-edges-');

  it('fails the start with the reason and a non-zero exit, never a native abort', async () => {
    // Eight threads on a small machine: the last one listens, and fails, while others are still binding.
    for (let run = 0; run < 2; run++) {
      const cli = runCli(['--config-file', files.configFile(LOOPBACK), '--set', 'server.workers=8'], { [FAULT_ENV]: '1' });
      const code = await within(cli.exited, 30_000, 'the relay to exit');
      const output = cli.stdout() + cli.stderr();
      expect(output).not.toContain('Assertion failed');
      expect(output).toContain('fault injected');
      // 1 when the start failed (the usual case here), 6 when every thread was listening first.
      expect([1, 6]).toContain(code);
    }
  });
});
