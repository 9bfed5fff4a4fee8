// Certificate rotation without a restart: new handshakes get the new certificate (its fingerprint, as a TLS client
// sees it), while a connection opened before keeps relaying. By reload, and by the file watcher (in place, and the
// Kubernetes symlink swap), with a half-written pair never applied.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptions } from 'ws';
import { TestClient } from '../../helpers/client.js';
import { metricValue, scrape } from '../../helpers/metrics.js';
import { startReloadable, type ReloadableRelay } from '../../helpers/reloadable.js';
import { until } from '../../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-tls-reload-'));
const pairs = ['a', 'b', 'c'].map((name) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }));
const [A, B, C] = pairs as [(typeof pairs)[0], (typeof pairs)[0], (typeof pairs)[0]];
const fp = (pair: { cert: string }): string => new X509Certificate(readFileSync(pair.cert)).fingerprint256;
let ca: Buffer[];
/** ws passes TLS options through to tls.connect; its typings omit `servername` (the SNI a host name would send). */
const sni = (): ClientOptions => ({ ca, servername: 'localhost' }) as ClientOptions;

beforeAll(() => {
  for (const { cert, key } of pairs) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:relay.test.example',
    ], { stdio: 'ignore' });
  }
  ca = pairs.map((p) => readFileSync(p.cert));
});

/** The SHA-256 fingerprint a TLS client is shown; `servername` is sent as SNI (none for an IP address). */
function seen(relay: ReloadableRelay, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: relay.wsPort, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** A copy of a pair in a directory of its own, so tests can rewrite it. */
function ownCopy(pair: { cert: string; key: string }): { dir: string; cert: string; key: string } {
  const own = mkdtempSync(join(dir, 'own-'));
  const cert = join(own, 'tls.crt');
  const key = join(own, 'tls.key');
  copyFileSync(pair.cert, cert);
  copyFileSync(pair.key, key);
  return { dir: own, cert, key };
}

/** The client opened before the rotation is still open and receives every one of 20 messages sent after it. */
async function stillRelays(relay: ReloadableRelay, old: TestClient): Promise<void> {
  const sender = await new TestClient(relay.url, sni()).opened();
  const before = old.inbox.length;
  for (let i = 0; i < 20; i++) sender.send(`after ${i}`);
  await old.received(before + 20);
  expect(old.inbox.slice(before).map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `after ${i}`));
  expect(old.ws.readyState).toBe(old.ws.OPEN);
  await sender.close();
}

describe('certificate rotation', () => {
  it('a reload serves the renewed certificate (same paths, new content) to new SNI handshakes; the old connection keeps relaying', async () => {
    const files = ownCopy(A);
    const relay = await startReloadable({ server: { tls: { cert_file: files.cert, key_file: files.key, watch: false } } });
    expect(await seen(relay, 'localhost')).toBe(fp(A));
    const old = await new TestClient(relay.url, sni()).opened();

    copyFileSync(B.cert, files.cert);
    copyFileSync(B.key, files.key);
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true, applied: [] });
    expect(await seen(relay, 'localhost')).toBe(fp(B));
    expect(await seen(relay, 'relay.test.example')).toBe(fp(B));
    expect(relay.tlsFingerprint).toBe(fp(B));
    // A client that sends no SNI (it connects by IP address) still gets the certificate loaded at start.
    expect(await seen(relay, undefined)).toBe(fp(A));
    await stillRelays(relay, old);

    // Again, once the replacement served a handshake: replacing those SNI contexts in place would make uWS free routes
    // that connections made through them still use (tls-second-rotation.test.ts), so C gets a new app on the same
    // port, which every new client reaches, with or without SNI; connections of the old app keep relaying, both ways.
    const onB = await new TestClient(relay.url, sni()).opened();
    copyFileSync(C.cert, files.cert);
    copyFileSync(C.key, files.key);
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true });
    // A reload waits at most 2 s for the other uWS thread to switch apps; on a loaded machine it may switch later.
    await until(async () => (await seen(relay, 'localhost')) === fp(C) && (await seen(relay, undefined)) === fp(C), 10_000, 'every thread to serve C');
    expect(relay.tlsFingerprint).toBe(fp(C));
    await stillRelays(relay, old);
    await stillRelays(relay, onB);
    onB.send('from the old app');
    await old.received(old.inbox.length + 1);
  });

  it('new paths in the config file are applied by a reload', async () => {
    const relay = await startReloadable({ server: { tls: { cert_file: A.cert, key_file: A.key, watch: false } } });
    relay.write({ server: { tls: { cert_file: B.cert, key_file: B.key, watch: false } } });
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true, applied: ['server.tls.cert_file', 'server.tls.key_file'] });
    expect(await seen(relay, 'localhost')).toBe(fp(B));
  });

  it.each([
    ['a missing certificate file', () => ({ cert_file: join(dir, 'missing.crt'), key_file: B.key }), 'server.tls.cert_file: cannot read'],
    ['a key that does not belong to the certificate', () => ({ cert_file: B.cert, key_file: C.key }), 'server.tls: the key in'],
    ['turning TLS off (needs a restart)', () => ({ cert_file: null, key_file: null }), ''],
  ])('%s leaves the running certificate in force', async (_what, tls, problem) => {
    const relay = await startReloadable({ server: { tls: { cert_file: A.cert, key_file: A.key, watch: false } } });
    const old = await new TestClient(relay.url, sni()).opened();
    relay.write({ server: { tls: { ...tls(), watch: false } } });
    const result = relay.reload('SIGHUP');
    if (problem === '') {
      expect(result).toMatchObject({ ok: true, restartOnly: ['server.tls.cert_file', 'server.tls.key_file'] });
    } else {
      expect(result.ok).toBe(false);
      expect(result.problems.join('\n')).toContain(problem);
      expect(relay.logs.some((l) => String(l.problem).includes(problem))).toBe(true);
      expect(metricValue(await scrape(relay.metricsUrl), 'relay_config_reloads_total', { result: 'failure' })).toBe(1);
    }
    expect(await seen(relay, 'localhost')).toBe(fp(A));
    await stillRelays(relay, old);
  });
});

describe('server.tls.watch', () => {
  it('picks up the Kubernetes atomic symlink swap (..data -> a new timestamped directory) by itself', async () => {
    const secret = mkdtempSync(join(dir, 'secret-'));
    const publish = (pair: { cert: string; key: string }, stamp: string): void => {
      const data = join(secret, `..${stamp}`);
      mkdirSync(data);
      copyFileSync(pair.cert, join(data, 'tls.crt'));
      copyFileSync(pair.key, join(data, 'tls.key'));
      symlinkSync(`..${stamp}`, join(secret, '..data_tmp'));
      renameSync(join(secret, '..data_tmp'), join(secret, '..data'));
    };
    publish(A, '2026_01_01_00_00_00.1');
    symlinkSync('..data/tls.crt', join(secret, 'tls.crt'));
    symlinkSync('..data/tls.key', join(secret, 'tls.key'));
    const relay = await startReloadable({ server: { tls: { cert_file: join(secret, 'tls.crt'), key_file: join(secret, 'tls.key') } } });
    const old = await new TestClient(relay.url, sni()).opened();
    expect(await seen(relay, 'localhost')).toBe(fp(A));

    publish(B, '2026_02_01_00_00_00.2');
    await until(async () => (await seen(relay, 'localhost')) === fp(B), 10_000, 'the new certificate after the symlink swap', 50);
    expect(relay.logs.some((l) => l.msg === 'configuration reloaded' && l.trigger === 'tls_watch')).toBe(true);
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_config_reloads_total', { result: 'success' })).toBe(1);
    await stillRelays(relay, old);
  });

  it('never applies a half-written pair: a new certificate without its key waits until the key arrives', async () => {
    const files = ownCopy(A);
    const relay = await startReloadable({ server: { tls: { cert_file: files.cert, key_file: files.key } } });
    copyFileSync(B.cert, files.cert); // the key is still A's
    // The watcher checks 250 ms after the last event and retries as long as the pair does not match: several rounds.
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) {
      expect(await seen(relay, 'localhost')).toBe(fp(A));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_config_reloads_total', { result: 'success' })).toBe(0);
    copyFileSync(B.key, files.key);
    await until(async () => (await seen(relay, 'localhost')) === fp(B), 10_000, 'the completed pair', 50);
    const metrics = await scrape(relay.metricsUrl);
    expect(metricValue(metrics, 'relay_config_reloads_total', { result: 'success' })).toBe(1);
    expect(metricValue(metrics, 'relay_config_reloads_total', { result: 'failure' })).toBe(0);
  });

  it('with watch off, a changed file waits for a reload', async () => {
    const files = ownCopy(A);
    const relay = await startReloadable({ server: { tls: { cert_file: files.cert, key_file: files.key, watch: false } } });
    copyFileSync(B.cert, files.cert);
    copyFileSync(B.key, files.key);
    writeFileSync(join(files.dir, 'touch'), 'x');
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      expect(await seen(relay, 'localhost')).toBe(fp(A));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(relay.reload('SIGHUP').ok).toBe(true);
    expect(await seen(relay, 'localhost')).toBe(fp(B));
  });
});
