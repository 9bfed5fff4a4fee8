// A throwaway self-signed certificate for the TLS peers (P-256, CN and SAN 127.0.0.1), made with the openssl
// command once and kept in bench/.build/. The load generator does not verify it.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { run } from './exec.js';
import { BUILD_DIR } from './paths.js';

export interface BenchCertificate {
  readonly cert: string;
  readonly key: string;
}

const DIR = path.join(BUILD_DIR, 'tls');

let made: Promise<BenchCertificate> | null = null;

/** Paths of the certificate and key; rejects with openssl's message when it cannot make them. */
export function benchCertificate(dir = DIR): Promise<BenchCertificate> {
  if (dir !== DIR) return make(dir);
  made ??= make(dir);
  return made;
}

async function make(dir: string): Promise<BenchCertificate> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  mkdirSync(dir, { recursive: true });
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert];
  args.push('-days', '3650', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
  const result = await run('openssl', args);
  if (result.code !== 0) throw new Error(`openssl could not make the bench certificate (apt install openssl): ${result.stderr.trim()}`);
  return { cert, key };
}

/** null when openssl can make the certificate, otherwise the note a TLS peer is skipped with */
export async function tlsMissing(): Promise<string | null> {
  try {
    await benchCertificate();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
