// security.auth: jwt — HS256 secret, PEM public key or JWKS file; exp/nbf/aud/iss; close 4001 when exp passes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { HandshakeRefused, TestClient } from '../../helpers/client.js';
import { disconnections, expectActiveConnections, rejected } from '../../helpers/health.js';
import { startRelay } from '../../helpers/relay.js';
import { within } from '../../helpers/wait.js';

const SECRET = 'a-test-secret-that-is-at-least-32-characters';
const hmac = new TextEncoder().encode(SECRET);
const nowS = (): number => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown>, key: CryptoKey | Uint8Array = hmac, header: { alg: string; kid?: string } = { alg: 'HS256' }): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).setIssuedAt().sign(key);
}

async function status(url: string, token: string): Promise<number> {
  const err = await new TestClient(url, { headers: { Authorization: `Bearer ${token}` } }).opened().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeRefused);
  return (err as HandshakeRefused).status;
}

const dir = mkdtempSync(join(tmpdir(), 'relay-jwt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tempFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('JWT auth', () => {
  it('HS256: admits a valid token, refuses bad signature, expiry, nbf, audience, issuer and algorithm with 401', async () => {
    const relay = await startRelay({
      security: { auth: 'jwt', jwt: { secret: SECRET, audience: 'relay', issuer: 'https://id.example', clock_tolerance_s: 0 } },
    });
    const good = { sub: 'alice', aud: 'relay', iss: 'https://id.example', exp: nowS() + 600 };
    const client = await new TestClient(`${relay.url}/?token=${await sign(good)}`).opened();

    const otherKey = new TextEncoder().encode('another-secret-that-is-at-least-32-characters');
    expect(await status(relay.url, await sign(good, otherKey))).toBe(401);
    expect(await status(relay.url, await sign({ ...good, exp: nowS() - 10 }))).toBe(401);
    expect(await status(relay.url, await sign({ ...good, nbf: nowS() + 600 }))).toBe(401);
    expect(await status(relay.url, await sign({ ...good, aud: 'someone-else' }))).toBe(401);
    expect(await status(relay.url, await sign({ ...good, iss: 'https://evil.example' }))).toBe(401);
    expect(await status(relay.url, await sign(good, hmac, { alg: 'HS512' }))).toBe(401);
    expect(await status(relay.url, 'not.a.jwt')).toBe(401);
    // An unsigned token ("alg": "none") must never pass.
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`;
    expect(await status(relay.url, unsigned)).toBe(401);

    // A token without exp would never expire: refused unless jwt.require_exp is turned off.
    const { exp: _exp, ...noExp } = good;
    expect(await status(relay.url, await sign(noExp))).toBe(401);

    expect(await rejected(relay, 'auth')).toBe(9);
    await expectActiveConnections(relay, 1);
    await client.close();
  });

  it('with require_exp: false, a token without exp is admitted', async () => {
    const relay = await startRelay({ security: { auth: 'jwt', jwt: { secret: SECRET, require_exp: false } } });
    await (await new TestClient(`${relay.url}/?token=${await sign({ sub: 'svc' })}`).opened()).close();
  });

  it('RS256 with a PEM public key file; a token from another key gets 401', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const other = await generateKeyPair('RS256');
    const relay = await startRelay({ security: { auth: 'jwt', jwt: { public_key_file: tempFile('key.pem', await exportSPKI(publicKey)) } } });
    const claims = { sub: 'bob', exp: nowS() + 600 };
    const client = await new TestClient(relay.url, { protocols: ['relay', `bearer.${await sign(claims, privateKey, { alg: 'RS256' })}`] }).opened();
    expect(client.ws.protocol).toBe('relay');
    expect(await status(relay.url, await sign(claims, other.privateKey, { alg: 'RS256' }))).toBe(401);
    // HS256 signed with the public key's text: the classic algorithm-confusion attack.
    expect(await status(relay.url, await sign(claims, new TextEncoder().encode(await exportSPKI(publicKey))))).toBe(401);
    await client.close();
  });

  it('ES256 from a JWKS file, the key picked by kid', async () => {
    const a = await generateKeyPair('ES256');
    const b = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(a.publicKey)), kid: 'a', alg: 'ES256' }, { ...(await exportJWK(b.publicKey)), kid: 'b', alg: 'ES256' }] };
    const relay = await startRelay({ security: { auth: 'jwt', jwt: { jwks_file: tempFile('jwks.json', JSON.stringify(jwks)) } } });
    const claims = { exp: nowS() + 600 };
    await (await new TestClient(`${relay.url}/?token=${await sign(claims, b.privateKey, { alg: 'ES256', kid: 'b' })}`).opened()).close();
    expect(await status(relay.url, await sign(claims, a.privateKey, { alg: 'ES256', kid: 'b' }))).toBe(401);
    expect(await status(relay.url, await sign(claims, a.privateKey, { alg: 'ES256', kid: 'unknown' }))).toBe(401);
  });

  it('closes a socket with 4001 when its token expires while connected; others stay', async () => {
    const relay = await startRelay({ security: { auth: 'jwt', jwt: { secret: SECRET, clock_tolerance_s: 0 } } });
    // 3 s: still valid after a slow handshake on a loaded machine (nowS rounds down)
    const shortLived = await new TestClient(`${relay.url}/?token=${await sign({ exp: nowS() + 3 })}`).opened();
    const longLived = await new TestClient(`${relay.url}/?token=${await sign({ exp: nowS() + 600 })}`).opened();
    const closed = await within(shortLived.closed, 8000, 'the expiry close');
    expect(closed).toEqual({ code: 4001, reason: 'token expired' });
    expect(await disconnections(relay, 'token_expired')).toBe(1);
    await expectActiveConnections(relay, 1);
    longLived.send('still here');
    expect((await longLived.received(1))[0]?.text).toBe('still here');
    await longLived.close();
  });

  it.each([
    ['public_key_file', { public_key_file: '/nonexistent/key.pem' }, 'security.jwt.public_key_file: cannot read'],
    ['public_key_file', { public_key_file: tempFile('bad.pem', 'not a key') }, 'security.jwt.public_key_file: '],
    ['jwks_file', { jwks_file: tempFile('bad.json', '{') }, 'security.jwt.jwks_file: '],
    ['jwks_file', { jwks_file: tempFile('empty.json', '{"keys":[]}') }, 'security.jwt.jwks_file: '],
  ])('refuses to start when %s is unusable, naming the key', async (_key, jwt, message) => {
    await expect(startRelay({ security: { auth: 'jwt', jwt } })).rejects.toMatchObject({
      code: 'RELAY_ERR_CONFIG',
      message: expect.stringContaining(message) as unknown,
    });
  });
});
