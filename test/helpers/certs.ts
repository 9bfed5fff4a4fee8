// Self-signed certificates made by openssl for TLS tests: a P-256 key and certificate for localhost, valid one day.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate/key pair written to `dir` as NAME.crt and NAME.key, with its SHA-256 fingerprint. */
export interface CertPair {
  readonly cert: string;
  readonly key: string;
  readonly fp: string;
}

/** Writes a new self-signed pair for `localhost` into `dir`. @throws when openssl is missing or fails */
export function selfSigned(dir: string, name: string): CertPair {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
  ], { stdio: 'ignore' });
  return { cert, key, fp: new X509Certificate(readFileSync(cert)).fingerprint256 };
}
