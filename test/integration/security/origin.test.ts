// security.allowed_origins / require_origin: a page from another site gets 403 before a socket exists.
import { describe, expect, it } from 'vitest';
import { HandshakeRefused, TestClient } from '../../helpers/client.js';
import { expectActiveConnections, rejected } from '../../helpers/health.js';
import { startRelay } from '../../helpers/relay.js';

async function refusal(url: string, headers: Record<string, string>): Promise<HandshakeRefused> {
  const err = await new TestClient(url, { headers }).opened().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeRefused);
  return err as HandshakeRefused;
}

describe('origin allow-list', () => {
  it('admits listed origins and wildcard subdomains, refuses others with 403', async () => {
    const relay = await startRelay({ security: { allowed_origins: ['https://app.example.com', '*.trusted.example'] } });
    const exact = await new TestClient(relay.url, { headers: { Origin: 'https://app.example.com' } }).opened();
    const wildcard = await new TestClient(relay.url, { headers: { Origin: 'http://a.b.trusted.example:8080' } }).opened();
    const noOrigin = await new TestClient(relay.url).opened();

    for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'https://trusted.example', 'null', 'http://app.example.com']) {
      expect((await refusal(relay.url, { Origin: origin })).status).toBe(403);
    }
    expect(await rejected(relay, 'origin')).toBe(5);
    await expectActiveConnections(relay, 3);
    await Promise.all([exact.close(), wildcard.close(), noOrigin.close()]);
    await expectActiveConnections(relay, 0);
  });

  it('with a scheme on the wildcard, only that scheme matches', async () => {
    const relay = await startRelay({ security: { allowed_origins: ['https://*.example.com'] } });
    await (await new TestClient(relay.url, { headers: { Origin: 'https://x.example.com' } }).opened()).close();
    expect((await refusal(relay.url, { Origin: 'http://x.example.com' })).status).toBe(403);
  });

  it('require_origin refuses clients that send no Origin, with any origin allowed otherwise', async () => {
    const relay = await startRelay({ security: { require_origin: true } });
    const err = await new TestClient(relay.url).opened().catch((e: unknown) => e);
    expect((err as HandshakeRefused).status).toBe(403);
    await (await new TestClient(relay.url, { headers: { Origin: 'https://anything.example' } }).opened()).close();
    expect(await rejected(relay, 'origin')).toBe(1);
  });

  it('an empty list admits every origin, also when the admission runs for other checks', async () => {
    // auth turns the admission on; with allowed_origins empty the Origin check must not refuse anything
    const token = 'tok_0123456789abcdef';
    const relay = await startRelay({ security: { allowed_origins: [], auth: 'token', tokens: [token] } });
    for (const origin of ['https://evil.example', 'null']) {
      await (await new TestClient(`${relay.url}/?token=${token}`, { headers: { Origin: origin } }).opened()).close();
    }
    expect((await refusal(relay.url, { Origin: 'https://evil.example' })).status).toBe(401); // refused for the token only
    expect(await rejected(relay, 'origin')).toBe(0);
    expect(await rejected(relay, 'auth')).toBe(1);
  });
});
