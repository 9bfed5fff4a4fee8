// security.auth: token — shared bearer tokens from the Authorization header, the query, or the subprotocol list.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { HandshakeRefused, TestClient } from '../../helpers/client.js';
import { expectActiveConnections, rejected } from '../../helpers/health.js';
import { startRelay } from '../../helpers/relay.js';
import { createLogger } from '../../../src/logger.js';

const TOKEN = 'tok_0123456789abcdef';
const OTHER = 'tok_fedcba9876543210';

async function refused(client: TestClient): Promise<HandshakeRefused> {
  const err = await client.opened().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeRefused);
  return err as HandshakeRefused;
}

describe('bearer token auth', () => {
  it('accepts a listed token from the header, the query or the subprotocol list', async () => {
    const relay = await startRelay({ security: { auth: 'token', tokens: [TOKEN, OTHER] } });
    const header = await new TestClient(relay.url, { headers: { Authorization: `Bearer ${TOKEN}` } }).opened();
    const query = await new TestClient(`${relay.url}/?token=${OTHER}`).opened();
    const protocol = await new TestClient(relay.url, { protocols: ['relay', `bearer.${TOKEN}`] }).opened();
    // The answer is the real protocol, never the credential (which would echo the secret back).
    expect(protocol.ws.protocol).toBe('relay');
    header.send('hello');
    expect((await query.received(1))[0]?.text).toBe('hello');
    await expectActiveConnections(relay, 3);
    await Promise.all([header.close(), query.close(), protocol.close()]);
    expect(await rejected(relay, 'auth')).toBe(0);
  });

  it('refuses a missing or wrong token with 401 and WWW-Authenticate', async () => {
    const relay = await startRelay({ security: { auth: 'token', tokens: [TOKEN] } });
    const missing = await refused(new TestClient(relay.url));
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect((await refused(new TestClient(relay.url, { headers: { Authorization: `Bearer ${TOKEN}x` } }))).status).toBe(401);
    expect((await refused(new TestClient(`${relay.url}/?token=${TOKEN.slice(0, -1)}`))).status).toBe(401);
    expect((await refused(new TestClient(relay.url, { headers: { Authorization: `Basic ${TOKEN}` } }))).status).toBe(401);
    expect((await refused(new TestClient(relay.url, { protocols: ['relay', 'bearer.nope-nope-nope-nope'] }))).status).toBe(401);
    expect(await rejected(relay, 'auth')).toBe(5);
    await expectActiveConnections(relay, 0);
  });

  it('never writes the token to the log, even at debug', async () => {
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const relay = await startRelay(
      { security: { auth: 'token', tokens: [TOKEN] }, log: { level: 'debug' } },
      { logger: createLogger('debug', sink) },
    );
    const started = Date.now();
    await refused(new TestClient(`${relay.url}/?token=${OTHER}`));
    await refused(new TestClient(relay.url, { protocols: ['relay', `bearer.${OTHER}`] }));
    await refused(new TestClient(relay.url, { headers: { Authorization: `Bearer ${OTHER}` } }));
    const ok = await new TestClient(relay.url, { headers: { Authorization: `Bearer ${TOKEN}` } }).opened();
    await ok.close();
    await expectActiveConnections(relay, 0);
    // Three refusals for one reason: at most one line per second.
    const refusalLines = logged.split('\n').filter((l) => l.includes('upgrade refused'));
    expect(refusalLines.length).toBeGreaterThanOrEqual(1);
    expect(refusalLines.length).toBeLessThanOrEqual(1 + Math.floor((Date.now() - started) / 1000));
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toContain(OTHER);
  });

  it('reads tokens_file at startup, and refuses to start when it is unreadable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-tokens-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'tokens');
    writeFileSync(file, `# operators\n${TOKEN}\n\n`);
    const relay = await startRelay({ security: { auth: 'token', tokens_file: file } });
    await (await new TestClient(relay.url, { headers: { Authorization: `Bearer ${TOKEN}` } }).opened()).close();

    await expect(startRelay({ security: { auth: 'token', tokens_file: join(dir, 'missing') } })).rejects.toMatchObject({
      code: 'RELAY_ERR_CONFIG',
      message: expect.stringContaining('security.tokens_file: cannot read') as unknown,
    });
  });
});
