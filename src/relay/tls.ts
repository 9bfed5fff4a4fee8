// Certificate rotation on a running SSLApp. uWS fixes the app's own (default) TLS context when the app is built, so
// a new certificate is served through SNI contexts: one per count of hostname labels ("*", "*.*", ...), added as
// handshakes ask for them and replaced on every rotation. Open connections keep the context they were made with.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TlsConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TemplatedApp } from './uws.js';

/** A certificate and key read from disk that belong together. */
export interface CertificatePair {
  readonly certPem: string;
  readonly keyPem: string;
  readonly passphrase: string | null;
  /** SHA-256 fingerprint of the leaf certificate, as OpenSSL prints it. */
  readonly fingerprint: string;
  readonly validTo: string;
}

/**
 * Reads cert_file and key_file and proves they form a usable pair (parsable, passphrase right, key matches the leaf),
 * so a half-written or mismatched pair is refused before uWS sees it.
 * @throws ConfigError naming the server.tls key at fault
 */
export function readCertificatePair(tls: TlsConfig): CertificatePair {
  const { cert_file, key_file, passphrase } = tls;
  if (cert_file === null || key_file === null) throw new ConfigError(['server.tls: cert_file and key_file must be set together']);
  const certPem = readPem(cert_file, 'server.tls.cert_file');
  const keyPem = readPem(key_file, 'server.tls.key_file');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new ConfigError([`server.tls.cert_file: ${cert_file} holds no readable certificate`], { cause: err });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, ...(passphrase === null ? {} : { passphrase }) });
  } catch (err) {
    throw new ConfigError([`server.tls.key_file: ${key_file} holds no usable private key (or server.tls.passphrase is wrong)`], { cause: err });
  }
  if (!cert.checkPrivateKey(key)) {
    throw new ConfigError([`server.tls: the key in ${key_file} does not belong to the certificate in ${cert_file}`]);
  }
  return { certPem, keyPem, passphrase, fingerprint: cert.fingerprint256, validTo: cert.validTo };
}

function readPem(file: string, key: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], { cause: err });
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError([`${key}: ${file} is not a PEM file`]);
  return text;
}

/** Hostnames with more labels than this keep the certificate loaded at start (bounds the contexts a client can make us build). */
const MAX_LABELS = 16;

export interface CertificateRotationOptions {
  readonly app: TemplatedApp;
  /** Registers the relay's routes under an SNI server name (uWS gives each server name its own, empty, router). */
  readonly route: (serverName: string) => void;
  readonly logger: Logger;
}

type ContextFiles = { readonly cert_file_name: string; readonly key_file_name: string; readonly passphrase?: string };

/** A pair ready to serve: its private copies are written, nothing is in force yet. */
export interface StagedCertificate {
  readonly pair: CertificatePair;
  readonly files: ContextFiles;
  /** Whether `files` are private copies (removed when replaced) or the configured files themselves. */
  readonly copied: boolean;
}

/** What a certificate reload drives: one app's rotation, or every thread's. */
export interface Rotation {
  /** @throws ConfigError when a replacement is not safe now */
  stage(pair: CertificatePair, tls: TlsConfig): StagedCertificate;
  discard(staged: StagedCertificate): void;
  apply(staged: StagedCertificate): void;
  close(): void;
}

/**
 * Serves a new certificate to new TLS handshakes that carry SNI; idempotent close() removes the private copies.
 * Once a handshake has used a replaced certificate, a further replacement is refused (see stage).
 */
export class CertificateRotation implements Rotation {
  readonly #opts: CertificateRotationOptions;
  readonly #patterns = new Set<string>();
  #dir: string | null = null;
  #current: StagedCertificate | null = null;
  #generation = 0;
  /** After close(), a handshake still finishing (the shutdown's last moments) must not write the copies again. */
  #closed = false;

  constructor(opts: CertificateRotationOptions) {
    this.#opts = opts;
  }

  /** Server names (patterns) that currently have a context of their own. */
  get serverNames(): readonly string[] {
    return [...this.#patterns];
  }

  /**
   * Writes private copies of the pair: uWS reads files, and the originals may change under it at any time (a context
   * added later must get exactly the pair that was checked). Without a writable temporary directory (a read-only
   * root filesystem) the configured files are used as they are.
   */
  stage(pair: CertificatePair, tls: TlsConfig): StagedCertificate {
    const passphrase = pair.passphrase === null ? {} : { passphrase: pair.passphrase };
    try {
      this.#dir ??= mkdtempSync(join(tmpdir(), 'websocket-relay-tls-'));
      chmodSync(this.#dir, 0o700);
      const n = ++this.#generation;
      const cert = join(this.#dir, `cert-${n}.pem`);
      const key = join(this.#dir, `key-${n}.pem`);
      writeFileSync(cert, pair.certPem, { mode: 0o600 });
      writeFileSync(key, pair.keyPem, { mode: 0o600 });
      return { pair, files: { cert_file_name: cert, key_file_name: key, ...passphrase }, copied: true };
    } catch (err) {
      this.#opts.logger.warn({ err, dir: tmpdir() }, 'cannot keep a private copy of the certificate; using the configured files directly');
      return { pair, files: { cert_file_name: tls.cert_file ?? '', key_file_name: tls.key_file ?? '', ...passphrase }, copied: false };
    }
  }

  /** Removes the copies of a staged pair that will not be applied. */
  discard(staged: StagedCertificate): void {
    if (!staged.copied || staged === this.#current) return;
    rmSync(staged.files.cert_file_name, { force: true });
    rmSync(staged.files.key_file_name, { force: true });
  }

  /**
   * Whether a handshake has used a replacement on this app: replacing a server name's context makes uWS delete that
   * name's router while TLS connections made through it may still be waiting to send their HTTP request (or the next
   * one), and the first byte they send then reads freed memory and the process dies. From then on a replacement
   * needs a new app (see workers/shard.ts), never apply().
   */
  get served(): boolean {
    return this.#patterns.size > 0;
  }

  /** From now on, handshakes with SNI get the staged pair; connections already open keep theirs. */
  apply(staged: StagedCertificate): void {
    if (this.served) throw new Error('a served server name cannot be replaced in place (see `served`)');
    const previous = this.#current;
    this.#current = staged;
    for (const pattern of this.#patterns) {
      this.#opts.app.removeServerName(pattern);
      this.#add(pattern);
    }
    if (previous === null) {
      // Only now: before the first rotation the app's own context serves everyone, and this runs per SNI handshake.
      this.#opts.app.missingServerName((hostname) => this.#missing(hostname));
    } else {
      this.discard(previous);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#dir !== null) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = null;
  }

  /**
   * Whether the files uWS is about to read still hold the checked pair: uWS crashes the process on a context whose
   * files are missing or unreadable. Private copies a temporary-file cleaner removed are written again; configured
   * files (no private copy) that changed since are not used, and that server name keeps the certificate from start.
   */
  #filesHold(staged: StagedCertificate): boolean {
    const { cert_file_name: cert, key_file_name: key } = staged.files;
    const holds = (file: string, pem: string): boolean => {
      try {
        return readFileSync(file, 'utf8') === pem;
      } catch {
        return false;
      }
    };
    if (holds(cert, staged.pair.certPem) && holds(key, staged.pair.keyPem)) return true;
    if (staged.copied && !this.#closed) {
      try {
        mkdirSync(dirname(cert), { recursive: true, mode: 0o700 });
        writeFileSync(cert, staged.pair.certPem, { mode: 0o600 });
        writeFileSync(key, staged.pair.keyPem, { mode: 0o600 });
        return true;
      } catch (err) {
        this.#opts.logger.error({ err, file: cert }, 'the private copy of the certificate is gone and cannot be written again');
        return false;
      }
    }
    this.#opts.logger.warn({ cert_file: cert, key_file: key }, 'certificate files changed since they were checked; this server name keeps the certificate from start');
    return false;
  }

  /** Runs inside a TLS handshake (a synchronous call from uWS): it must not throw. */
  #missing(hostname: string): void {
    try {
      const labels = hostname.split('.').length;
      if (labels > MAX_LABELS) return;
      const pattern = Array.from({ length: labels }, () => '*').join('.');
      if (!this.#patterns.has(pattern)) this.#add(pattern);
    } catch (err) {
      this.#opts.logger.error({ err }, 'adding a TLS server name failed');
    }
  }

  #add(pattern: string): void {
    if (this.#current === null || !this.#filesHold(this.#current)) return;
    this.#opts.app.addServerName(pattern, this.#current.files);
    this.#opts.route(pattern);
    this.#patterns.add(pattern);
  }
}
