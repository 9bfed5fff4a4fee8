// A second certificate replacement made in place would make uWS free the routes of a TLS context that connections
// still use: a client that finished its handshake before the replacement and sends its request after it crashed the
// relay. The relay (a real process, so a crash cannot take the test runner with it) serves the new certificate from a
// new uWS app on the same port instead, and the old app keeps its connections: every replacement is live.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { expect, it } from 'vitest';
import { selfSigned, type CertPair } from '../../helpers/certs.js';
import { listening, runCli, type CliRun } from '../../helpers/cli.js';
import { until, within } from '../../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-tls-second-'));

const pair = (name: string): CertPair => selfSigned(dir, name);

function logLines(run: CliRun): { msg: string; [k: string]: unknown }[] {
  return run.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
}

/** A TLS connection (with SNI unless `servername` is undefined) that has finished its handshake and sent nothing yet. */
function handshake(port: number, servername: string | undefined = 'localhost'): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...(servername === undefined ? {} : { servername }), rejectUnauthorized: false }, () => resolve(socket));
    socket.on('error', reject);
  });
}

it('a second and a third replacement go to new apps: a connection opened before still gets its upgrade, new ones get the newest certificate', async () => {
  const [A, B, C, D] = [pair('a'), pair('b'), pair('c'), pair('d')];
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const use = (p: { cert: string; key: string }): void => {
    copyFileSync(p.cert, cert);
    copyFileSync(p.key, key);
  };
  use(A);
  const file = join(dir, 'relay.yaml');
  writeFileSync(file, `server: { host: 127.0.0.1, port: 0, tls: { cert_file: ${cert}, key_file: ${key}, watch: false } }\nmetrics: { enabled: false }\n`);
  const run = runCli(['-c', file]);
  const { ws_port } = await listening(run);
  const reloads = (): number => logLines(run).filter((l) => l.msg === 'configuration reloaded' || l.msg.startsWith('configuration reload refused;')).length;

  use(B);
  run.child.kill('SIGHUP');
  await until(() => reloads() === 1, 10_000, 'the first replacement');
  const waiting = await handshake(ws_port);
  expect(waiting.getPeerCertificate().fingerprint256).toBe(B.fp);

  use(C);
  run.child.kill('SIGHUP');
  await until(() => reloads() === 2, 10_000, 'the second reload');

  let answer = '';
  waiting.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  waiting.write(
    'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await within(
    Promise.race([
      until(() => answer.includes('\r\n\r\n'), 10_000, 'the upgrade answer'),
      run.exited.then((code) => Promise.reject(new Error(`the relay died (${code}):\n${run.stderr()}`))),
    ]),
    10_000,
    'the upgrade answer',
  );
  expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
  expect(logLines(run).filter((l) => l.msg.startsWith('configuration reload refused'))).toEqual([]);
  expect(logLines(run).some((l) => l.msg.startsWith('new certificate served by a new uWS app'))).toBe(true);
  waiting.destroy();
  // The new app's own certificate: clients with SNI and without (by IP address) get it.
  for (const servername of ['localhost', undefined]) {
    const fresh = await handshake(ws_port, servername);
    expect(fresh.getPeerCertificate().fingerprint256).toBe(C.fp);
    fresh.destroy();
  }
  // And again, once C has served handshakes too.
  use(D);
  run.child.kill('SIGHUP');
  await until(() => reloads() === 3, 10_000, 'the third reload');
  const fresh = await handshake(ws_port);
  expect(fresh.getPeerCertificate().fingerprint256).toBe(D.fp);
  fresh.destroy();
  run.child.kill('SIGTERM');
  expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
});
