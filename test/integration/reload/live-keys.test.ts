// SIGHUP-style reloads on a running relay: each live key takes effect for a new connection, while a connection
// opened before the reload stays open and keeps receiving, with nothing lost.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HandshakeRefused, TestClient } from '../../helpers/client.js';
import { metricValue, scrape } from '../../helpers/metrics.js';
import { startReloadable, type ReloadableRelay } from '../../helpers/reloadable.js';
import { until, within } from '../../helpers/wait.js';

const TOKEN = 'tok_0123456789abcdef';
const OTHER = 'tok_fedcba9876543210';

/** A client opened before a reload: proves it is still open and that every message sent through it arrives. */
async function stillRelays(relay: ReloadableRelay, old: TestClient, tag: string): Promise<void> {
  const probe = await new TestClient(relay.url, { headers: { Authorization: `Bearer ${TOKEN}`, Origin: 'https://new.example' } }).opened();
  const before = old.inbox.length;
  for (let i = 0; i < 20; i++) probe.send(`${tag} ${i}`);
  await old.received(before + 20);
  expect(old.inbox.slice(before).map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `${tag} ${i}`));
  expect(old.ws.readyState).toBe(old.ws.OPEN);
  await probe.close();
}

async function refusal(client: TestClient): Promise<number> {
  const err = await client.opened().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeRefused);
  return (err as HandshakeRefused).status;
}

describe('reloading live keys', () => {
  it('relay.echo: a sender stops getting its own messages; the old connection keeps receiving', async () => {
    const relay = await startReloadable({ relay: { echo: true } });
    const old = await new TestClient(relay.url).opened();
    old.send('mine');
    expect((await old.received(1))[0]!.text).toBe('mine');
    relay.write({ relay: { echo: false } });
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true, applied: ['relay.echo'], restartOnly: [] });
    const fresh = await new TestClient(relay.url).opened();
    fresh.send('own');
    fresh.send('second');
    await old.received(3);
    expect(fresh.inbox).toHaveLength(0);
    await stillRelays(relay, old, 'after echo');
  });

  it('relay.max_payload_bytes lowered: a new connection over the new limit gets 1009, the old one keeps receiving', async () => {
    const relay = await startReloadable({ relay: { max_payload_bytes: 4096 } });
    const old = await new TestClient(relay.url).opened();
    relay.write({ relay: { max_payload_bytes: 100 } });
    expect(relay.reload('SIGHUP').ok).toBe(true);
    const fresh = await new TestClient(relay.url).opened();
    fresh.send('x'.repeat(101));
    expect((await within(fresh.closed, 5000, 'the 1009 close')).code).toBe(1009);
    await stillRelays(relay, old, 'payload');
  });

  it('security.allowed_origins: a removed origin is refused for new connections; its open connection stays', async () => {
    const relay = await startReloadable({ security: { allowed_origins: ['https://old.example', 'https://new.example'] } });
    const old = await new TestClient(relay.url, { headers: { Origin: 'https://old.example' } }).opened();
    relay.write({ security: { allowed_origins: ['https://new.example'] } });
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true, applied: ['security.allowed_origins'] });
    expect(await refusal(new TestClient(relay.url, { headers: { Origin: 'https://old.example' } }))).toBe(403);
    await stillRelays(relay, old, 'origins');
  });

  it('security.tokens: a revoked token is refused for new connections, a new one admitted; open connections stay', async () => {
    const relay = await startReloadable({ security: { auth: 'token', tokens: [OTHER, TOKEN] } });
    const old = await new TestClient(relay.url, { headers: { Authorization: `Bearer ${OTHER}` } }).opened();
    relay.write({ security: { auth: 'token', tokens: [TOKEN] } });
    expect(relay.reload('SIGHUP').ok).toBe(true);
    expect(await refusal(new TestClient(relay.url, { headers: { Authorization: `Bearer ${OTHER}` } }))).toBe(401);
    await stillRelays(relay, old, 'tokens');
  });

  it('security.tokens_file: a reload re-reads the file even when the config did not change', async () => {
    const tokens = join(mkdtempSync(join(tmpdir(), 'relay-tokens-')), 'tokens');
    writeFileSync(tokens, `${OTHER}\n${TOKEN}\n`);
    const relay = await startReloadable({ security: { auth: 'token', tokens_file: tokens } });
    const old = await new TestClient(relay.url, { headers: { Authorization: `Bearer ${OTHER}` } }).opened();
    writeFileSync(tokens, `# ${OTHER} revoked\n${TOKEN}\n`);
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true, applied: [] });
    expect(await refusal(new TestClient(relay.url, { headers: { Authorization: `Bearer ${OTHER}` } }))).toBe(401);
    await stillRelays(relay, old, 'tokens file');
  });

  it('turning on checks the relay was started without is live on every thread: auth for new connections, a message rate for open ones too', async () => {
    const relay = await startReloadable({});
    // Several connections, so that every uWS thread holds some (server.workers: auto).
    const olds = await Promise.all(Array.from({ length: 6 }, () => new TestClient(relay.url).opened()));
    relay.write({ relay: { echo: false }, security: { auth: 'token', tokens: [TOKEN] }, limits: { max_messages_per_second: 0.001, burst_messages: 2, on_rate_exceeded: 'drop' } });
    const result = relay.reload('SIGHUP');
    expect(result).toMatchObject({ ok: true, restartOnly: [] });
    expect(result.applied).toEqual(expect.arrayContaining(['relay.echo', 'security.auth', 'security.tokens', 'limits.max_messages_per_second']));
    expect(relay.config.security.auth).toBe('token');
    // New connections need the token now, whichever thread they reach.
    for (let i = 0; i < 6; i++) expect(await refusal(new TestClient(relay.url))).toBe(401);
    const reader = await new TestClient(relay.url, { headers: { Authorization: `Bearer ${TOKEN}` } }).opened();
    // Open connections keep their connection and get the rate from their next message: a burst of 2, then drops.
    for (const c of olds) for (let i = 0; i < 4; i++) c.send(`${i}`);
    await reader.received(olds.length * 2);
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_rate_limited_messages_total') === olds.length * 2, 5000, 'every excess message dropped');
    expect(reader.inbox).toHaveLength(olds.length * 2);
    for (const c of olds) expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('turning checks off is live: the admission and limiter then let everything through', async () => {
    const relay = await startReloadable({ security: { auth: 'token', tokens: [TOKEN] }, limits: { max_messages_per_second: 0.001, burst_messages: 1, on_rate_exceeded: 'drop' } });
    const old = await new TestClient(relay.url, { headers: { Authorization: `Bearer ${TOKEN}` } }).opened();
    relay.write({});
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true, restartOnly: [] });
    const open = await new TestClient(relay.url).opened();
    for (let i = 0; i < 5; i++) open.send(`free ${i}`);
    await old.received(5);
    await stillRelays(relay, old, 'checks off');
  });

  it('limits.max_connections lowered: the next upgrade is refused, open connections stay', async () => {
    const relay = await startReloadable({ limits: { max_connections: 10 } });
    const old = await new TestClient(relay.url).opened();
    const other = await new TestClient(relay.url).opened();
    relay.write({ limits: { max_connections: 2 } });
    expect(relay.reload('SIGHUP').ok).toBe(true);
    expect(await refusal(new TestClient(relay.url))).toBe(503);
    await other.close();
    await stillRelays(relay, old, 'max_connections');
  });

  it('limits.max_messages_per_second: applies to connections already open, from their next message', async () => {
    const generous = { max_messages_per_second: 100_000, on_rate_exceeded: 'drop' } as const;
    const relay = await startReloadable({ relay: { echo: false }, limits: generous });
    const sender = await new TestClient(relay.url).opened();
    const old = await new TestClient(relay.url).opened();
    relay.write({ relay: { echo: false }, limits: { max_messages_per_second: 0.001, burst_messages: 3, on_rate_exceeded: 'drop' } });
    expect(relay.reload('SIGHUP').ok).toBe(true);
    for (let i = 0; i < 10; i++) sender.send(`m${i}`);
    await until(
      async () => (metricValue(await scrape(relay.metricsUrl), 'relay_rate_limited_messages_total') ?? 0) >= 7,
      5000,
      'seven messages dropped',
    );
    expect((await old.received(3)).map((m) => m.text)).toEqual(['m0', 'm1', 'm2']);
    // Lifted again: the same connection is relayed as before.
    relay.write({ relay: { echo: false }, limits: generous });
    expect(relay.reload('SIGHUP').ok).toBe(true);
    for (let i = 0; i < 10; i++) sender.send(`n${i}`);
    await old.received(13);
    expect(sender.ws.readyState).toBe(sender.ws.OPEN);
  });

  it('log.level: debug lines appear after the reload, from the rooms too', async () => {
    const relay = await startReloadable({ log: { level: 'info' } });
    const first = await new TestClient(relay.url).opened();
    await first.close();
    await until(() => relay.connections === 0, 5000, 'the close');
    expect(relay.logs.some((l) => l.msg === 'client disconnected')).toBe(false);
    relay.write({ log: { level: 'debug' } });
    expect(relay.reload('SIGHUP').ok).toBe(true);
    const second = await new TestClient(relay.url).opened();
    await second.close();
    await until(() => relay.logs.some((l) => l.msg === 'client disconnected' && l.room === 'hub'), 5000, 'a debug line from the hub');
  });

  it('shutdown.*: the running config shows the new values', async () => {
    const relay = await startReloadable({});
    relay.write({ shutdown: { timeout_s: 30, drain_delay_s: 1, drain_spread_s: 5 } });
    expect(relay.reload('SIGHUP').ok).toBe(true);
    expect(relay.config.shutdown).toEqual({ timeout_s: 30, drain_delay_s: 1, drain_spread_s: 5 });
  });
});

describe('a reload that cannot be applied changes nothing', () => {
  const cases: [string, string, string][] = [
    ['invalid YAML', 'relay: { echo: false\nlimits: [', 'YAML syntax error'],
    ['an invalid value', 'server: { host: 127.0.0.1, port: 0 }\nmetrics: { host: 127.0.0.1, port: 0 }\nrelay: { echo: false, max_payload_bytes: 1 }', 'relay.max_payload_bytes: must be >= 16'],
    [
      'a missing tokens file',
      `server: { host: 127.0.0.1, port: 0 }\nmetrics: { host: 127.0.0.1, port: 0 }\nrelay: { echo: false }\nsecurity: { auth: token, tokens_file: /nonexistent/tokens }`,
      'security.tokens_file: cannot read /nonexistent/tokens: ENOENT',
    ],
  ];
  for (const [what, yaml, problem] of cases) {
    it(what, async () => {
      const relay = await startReloadable({ relay: { echo: true } });
      const old = await new TestClient(relay.url).opened();
      relay.write(yaml);
      const result = relay.reload('SIGHUP');
      expect(result.ok).toBe(false);
      expect(result.problems.join('\n')).toContain(problem);
      // Logged one line per problem, as --check-config prints it, and counted.
      expect(relay.logs.filter((l) => l.msg.startsWith('configuration reload refused: ')).map((l) => l.problem)).toEqual(result.problems);
      const metrics = await scrape(relay.metricsUrl);
      expect(metricValue(metrics, 'relay_config_reloads_total', { result: 'failure' })).toBe(1);
      expect(metricValue(metrics, 'relay_config_reloads_total', { result: 'success' })).toBe(0);
      expect(metricValue(metrics, 'relay_config_last_reload_successful')).toBe(0);
      // Still echoing: the old config is in force.
      expect(relay.config.relay.echo).toBe(true);
      const fresh = await new TestClient(relay.url).opened();
      fresh.send('echoed');
      expect((await fresh.received(1))[0]!.text).toBe('echoed');
      await old.received(1);
      // A good reload afterwards succeeds and sets the gauges back.
      relay.write({ relay: { echo: true } });
      expect(relay.reload('SIGHUP').ok).toBe(true);
      const after = await scrape(relay.metricsUrl);
      expect(metricValue(after, 'relay_config_last_reload_successful')).toBe(1);
      expect(metricValue(after, 'relay_config_last_reload_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    });
  }

  it('names each restart-only key that changed in the log and applies the rest', async () => {
    const relay = await startReloadable({});
    relay.write({ relay: { rooms: true, echo: false, idle_timeout_s: 60 }, metrics: { path: '/m' }, cluster: { ready_requires_backplane: false } });
    const result = relay.reload('SIGHUP');
    expect(result).toMatchObject({ ok: true, applied: ['relay.echo'] });
    expect(result.restartOnly).toEqual(['cluster.ready_requires_backplane', 'metrics.path', 'relay.idle_timeout_s', 'relay.rooms']);
    const named = relay.logs.filter((l) => l.level === 'warn' && String(l.msg).includes('needs a restart')).map((l) => l.key);
    expect(named).toEqual(result.restartOnly);
    expect(relay.config.relay).toMatchObject({ rooms: false, echo: false, idle_timeout_s: 120 });
    expect(relay.config.metrics.path).toBe('/metrics');
  });
});

describe('reloads under load', () => {
  it('200 connections churning during 20 reloads: none refused, none dropped, nothing lost', async () => {
    const relay = await startReloadable({ limits: { max_connections: 1000 }, security: { allowed_origins: ['https://a.example'] } });
    const origin = { headers: { Origin: 'https://a.example' } };
    const listener = await new TestClient(relay.url, origin).opened();
    let opened = 0;
    let failures = 0;
    let abnormal = 0;
    let sent = 0;
    const churn = async (): Promise<void> => {
      for (let round = 0; round < 5; round++) {
        const client = new TestClient(relay.url, origin);
        try {
          await client.opened(10_000);
        } catch {
          failures++;
          continue;
        }
        opened++;
        client.send(`hello ${sent++}`);
        const closed = await client.close(1000);
        if (closed.code !== 1000) abnormal++;
      }
    };
    const workers = Array.from({ length: 40 }, churn);
    const reloads = (async () => {
      for (let i = 0; i < 20; i++) {
        relay.write({ limits: { max_connections: 1000 + i }, security: { allowed_origins: ['https://a.example', `https://b${i}.example`] } });
        expect(relay.reload('SIGHUP').ok).toBe(true);
        // Spread over the churn: the next reload once about ten more connections have come and gone.
        await until(() => opened + failures >= Math.min(200, (i + 1) * 9), 20_000, `churn before reload ${i + 1}`, 1);
      }
    })();
    await Promise.all([...workers, reloads]);
    expect({ opened, failures, abnormal }).toEqual({ opened: 200, failures: 0, abnormal: 0 });
    await listener.received(200, 15_000);
    expect(listener.ws.readyState).toBe(listener.ws.OPEN);
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_config_reloads_total', { result: 'success' })).toBe(20);
  });
});
