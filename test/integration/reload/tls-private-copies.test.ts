// uWS reads a replaced certificate from files when a handshake first needs it, possibly days after the reload, and
// crashes the process when they are gone. A temporary-file cleaner removing the relay's private copies in between
// must not take the relay down: the copies are written again. A real process, so a crash cannot take the runner.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { expect, it } from 'vitest';
import { selfSigned, type CertPair } from '../../helpers/certs.js';
import { listening, runCli, type CliRun } from '../../helpers/cli.js';
import { until, within } from '../../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-tls-copies-'));

const pair = (name: string): CertPair => selfSigned(dir, name);

function reloads(run: CliRun): number {
  return run.stdout().split('\n').filter((l) => l.includes('"msg":"configuration reloaded"')).length;
}

function fingerprint(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

it('a handshake after the private certificate copies were removed gets the new certificate; the relay keeps running', async () => {
  const [A, B] = [pair('a'), pair('b')];
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  copyFileSync(A.cert, cert);
  copyFileSync(A.key, key);
  const temp = join(dir, 'tmp');
  mkdirSync(temp);
  const file = join(dir, 'relay.yaml');
  writeFileSync(file, `server: { host: 127.0.0.1, port: 0, tls: { cert_file: ${cert}, key_file: ${key}, watch: false } }\nmetrics: { enabled: false }\n`);
  const run = runCli(['-c', file], { TMPDIR: temp });
  const { ws_port } = await listening(run);

  copyFileSync(B.cert, cert);
  copyFileSync(B.key, key);
  run.child.kill('SIGHUP');
  await until(() => reloads(run) === 1, 10_000, 'the replacement');
  const copies = readdirSync(temp);
  expect(copies).toHaveLength(1);
  rmSync(join(temp, copies[0]!), { recursive: true });

  const seen = await within(
    Promise.race([fingerprint(ws_port, 'localhost'), run.exited.then((code) => Promise.reject(new Error(`the relay died (${code})`)))]),
    10_000,
    'a handshake',
  );
  expect(seen).toBe(B.fp);
  expect(await fingerprint(ws_port, 'relay.localhost')).toBe(B.fp);
  run.child.kill('SIGTERM');
  expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
});
