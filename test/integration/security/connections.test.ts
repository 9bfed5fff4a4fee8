// limits.max_connections (503), limits.max_connections_per_ip (429), and the client IP behind trusted proxies.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { HandshakeRefused, TestClient, connectMany } from '../../helpers/client.js';
import { expectActiveConnections, rejected } from '../../helpers/health.js';
import { startRelay } from '../../helpers/relay.js';
import { until } from '../../helpers/wait.js';

async function refusedWith(url: string, headers: Record<string, string> = {}): Promise<number> {
  const err = await new TestClient(url, { headers }).opened().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeRefused);
  return (err as HandshakeRefused).status;
}

describe('connection limits', () => {
  it('max_connections: the next upgrade gets 503 until a slot frees up', async () => {
    const relay = await startRelay({ limits: { max_connections: 3 } });
    const clients = await connectMany(relay.url, 3);
    expect(await refusedWith(relay.url)).toBe(503);
    expect(await rejected(relay, 'max_connections')).toBe(1);
    await clients[0]?.close();
    await expectActiveConnections(relay, 2);
    const again = await new TestClient(relay.url).opened();
    expect(await refusedWith(relay.url)).toBe(503);
    await Promise.all([again, ...clients.slice(1)].map((c) => c.close()));
  });

  it('max_connections holds under a burst of simultaneous upgrades', async () => {
    const relay = await startRelay({ limits: { max_connections: 5 } });
    const clients = Array.from({ length: 20 }, () => new TestClient(relay.url));
    const results = await Promise.allSettled(clients.map((c) => c.opened()));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(await rejected(relay, 'max_connections')).toBe(15);
    await expectActiveConnections(relay, 5);
    await Promise.all(clients.map((c) => c.terminate()));
    await expectActiveConnections(relay, 0);
  });

  it('max_connections holds while JWT checks are in flight (slots are reserved at the verdict)', async () => {
    const secret = 'a-test-secret-that-is-at-least-32-characters';
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(secret));
    const relay = await startRelay({ limits: { max_connections: 5 }, security: { auth: 'jwt', jwt: { secret } } });
    const clients = Array.from({ length: 20 }, () => new TestClient(`${relay.url}/?token=${token}`));
    const results = await Promise.allSettled(clients.map((c) => c.opened()));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    await expectActiveConnections(relay, 5);
    await Promise.all(clients.map((c) => c.terminate()));
  });

  it('max_connections_per_ip: the next upgrade from the same address gets 429; others are unaffected', async () => {
    const relay = await startRelay({ limits: { max_connections_per_ip: 2 }, security: { trusted_proxies: ['127.0.0.1'] } });
    const fromA = { 'X-Forwarded-For': '203.0.113.7' };
    const a = await connectMany(relay.url, 2, { headers: fromA });
    expect(await refusedWith(relay.url, fromA)).toBe(429);
    const b = await new TestClient(relay.url, { headers: { 'X-Forwarded-For': '203.0.113.8' } }).opened();
    expect(await rejected(relay, 'per_ip')).toBe(1);
    await a[0]?.close();
    await until(async () => (await new TestClient(relay.url, { headers: fromA }).opened().then((c) => (a.push(c), true), () => false)), 5000, 'a free per-IP slot');
    await Promise.all([...a, b].map((c) => c.close()));
  });

  it('counts IPv6 clients per /64', async () => {
    const relay = await startRelay({ limits: { max_connections_per_ip: 1 }, security: { trusted_proxies: ['127.0.0.0/8'] } });
    const first = await new TestClient(relay.url, { headers: { 'X-Forwarded-For': '2001:db8:1:2::1' } }).opened();
    expect(await refusedWith(relay.url, { 'X-Forwarded-For': '2001:db8:1:2:ffff::9' })).toBe(429);
    const otherNet = await new TestClient(relay.url, { headers: { 'X-Forwarded-For': '2001:db8:1:3::1' } }).opened();
    await Promise.all([first.close(), otherNet.close()]);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const relay = await startRelay({ limits: { max_connections_per_ip: 1 }, security: { trusted_proxies: ['10.0.0.0/8'] } });
    const first = await new TestClient(relay.url, { headers: { 'X-Forwarded-For': '203.0.113.1' } }).opened();
    // A different forged address does not help: the peer (127.0.0.1) is what counts.
    expect(await refusedWith(relay.url, { 'X-Forwarded-For': '203.0.113.2' })).toBe(429);
    await first.close();
  });

  it('without limits, nothing is counted or refused', async () => {
    const relay = await startRelay();
    const clients = await connectMany(relay.url, 30);
    await expectActiveConnections(relay, 30);
    await Promise.all(clients.map((c) => c.close()));
  });
});
