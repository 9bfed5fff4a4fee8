// CertificateRotation against a stand-in app: what it hands uWS, and what it leaves on disk after close().
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { CertificateRotation, readCertificatePair } from '../../src/relay/tls.js';
import type { TemplatedApp } from '../../src/relay/uws.js';

it('a handshake that finishes after close() neither gets a context nor writes the private copies again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-tls-unit-'));
  const tls = { cert_file: join(dir, 'c.crt'), key_file: join(dir, 'c.key'), passphrase: null, watch: false };
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', tls.key_file, '-out', tls.cert_file,
    '-days', '1', '-subj', '/CN=localhost',
  ], { stdio: 'ignore' });
  let missing: ((hostname: string) => void) | null = null;
  const added: string[] = [];
  const app = {
    missingServerName: (h: (hostname: string) => void) => void (missing = h),
    addServerName: (pattern: string) => void added.push(pattern),
    removeServerName: () => undefined,
  } as unknown as TemplatedApp;
  const rotation = new CertificateRotation({ app, route: () => undefined, logger: createLogger('silent') });
  const staged = rotation.stage(readCertificatePair(tls as never), tls as never);
  rotation.apply(staged);
  rotation.close();
  expect(existsSync(dirname(staged.files.cert_file_name))).toBe(false);
  missing!('localhost');
  expect(added).toEqual([]);
  expect(existsSync(dirname(staged.files.cert_file_name))).toBe(false);
});
