// wss:// with a self-signed certificate made for the test: TLS is on exactly when cert_file and key_file are set.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { runCliToExit } from '../helpers/cli.js';
import { startRelay } from '../helpers/relay.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const encryptedKey = join(dir, 'key.enc.pem');

beforeAll(() => {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  execFileSync('openssl', ['pkey', '-in', key, '-aes256', '-passout', 'pass:s3cret', '-out', encryptedKey], { stdio: 'ignore' });
});

describe('TLS', () => {
  it('serves wss:// when cert_file and key_file are set, and relays over it', async () => {
    const relay = await startRelay({ server: { tls: { cert_file: cert, key_file: key } } });
    expect(relay.url).toMatch(/^wss:\/\//);
    const ca = readFileSync(cert);
    const a = await new TestClient(relay.url, { ca }).opened();
    const b = await new TestClient(relay.url, { ca }).opened();
    a.send('secret hello');
    expect((await b.received(1))[0]!.text).toBe('secret hello');
    // and refuses plain ws:// on the same port
    await expect(new TestClient(relay.url.replace('wss://', 'ws://')).opened()).rejects.toThrow();
  });

  it('accepts an encrypted key with its passphrase', async () => {
    const relay = await startRelay({ server: { tls: { cert_file: cert, key_file: encryptedKey, passphrase: 's3cret' } } });
    const client = await new TestClient(relay.url, { ca: readFileSync(cert) }).opened();
    client.send('x');
    expect((await client.received(1))[0]!.text).toBe('x');
  });

  it('a wrong passphrase is a configuration error, not a half-started server', async () => {
    const config = join(dir, 'wrong.yaml');
    writeFileSync(
      config,
      `server: { host: 127.0.0.1, port: 0, tls: { cert_file: ${cert}, key_file: ${encryptedKey}, passphrase: nope } }\nmetrics: { enabled: false }\n`,
    );
    const { code, stderr } = await runCliToExit(['-c', config]);
    expect(code).toBe(2);
    expect(stderr).toContain('server.tls: the certificate or key could not be used');
  });

  it('a key file that is not PEM is rejected naming the key', async () => {
    const config = join(dir, 'notpem.yaml');
    writeFileSync(join(dir, 'garbage.pem'), 'not a key');
    writeFileSync(config, `server: { tls: { cert_file: ${cert}, key_file: ${join(dir, 'garbage.pem')} } }\n`);
    const { code, stderr } = await runCliToExit(['--check-config', '-c', config]);
    expect(code).toBe(2);
    expect(stderr).toContain('server.tls.key_file:');
    expect(stderr).toContain('is not a PEM file');
  });
});
