// The TLS part of a reload: re-reads the certificate pair (even when its paths did not change, as after a renewal in
// place), refuses a pair that does not belong together, and hands a good one to the certificate rotation. Also
// drives the file watcher that makes a certificate renewal reload TLS by itself.
import { createHash } from 'node:crypto';
import type { Config, TlsConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { readCertificatePair, type CertificatePair, type Rotation } from '../relay/tls.js';
import type { PreparedChange, ReloadStep, ReloadTrigger } from './reloader.js';
import { FileWatcher, type CheckOutcome } from './watch.js';

export interface CertificateReloadOptions {
  readonly rotation: Rotation;
  /** The pair the app was built with. */
  readonly initial: CertificatePair;
  readonly tls: TlsConfig;
  readonly logger: Logger;
  /** Runs a reload of the running configuration (the watcher's way in, so it is counted like any other). */
  readonly reload: (trigger: ReloadTrigger) => void;
  readonly debounceMs?: number;
}

export class CertificateReload implements ReloadStep {
  readonly name = 'tls';
  readonly #opts: CertificateReloadOptions;
  readonly #watcher: FileWatcher;
  #digest: string;
  #fingerprint: string;

  constructor(opts: CertificateReloadOptions) {
    this.#opts = opts;
    this.#digest = digest(opts.initial);
    this.#fingerprint = opts.initial.fingerprint;
    this.#tls = opts.tls;
    this.#watcher = new FileWatcher({
      logger: opts.logger,
      check: () => this.#check(),
      giveUp: () => opts.reload('tls_watch'),
      ...(opts.debounceMs === undefined ? {} : { debounceMs: opts.debounceMs }),
    });
    this.#follow(opts.tls);
  }

  #tls: TlsConfig;
  /** What the watcher follows now, as [watch, cert_file, key_file]. */
  #watching = '';

  /** SHA-256 fingerprint of the certificate new handshakes get. */
  get fingerprint(): string {
    return this.#fingerprint;
  }

  prepare(next: Config): PreparedChange | null {
    const tls = next.server.tls;
    if (tls.cert_file === null) return null; // TLS cannot be switched on or off live (see plan.ts)
    const pair = readCertificatePair(tls);
    const d = digest(pair);
    if (d === this.#digest) return { commit: () => this.#follow(tls) };
    const staged = this.#opts.rotation.stage(pair, tls);
    return {
      commit: () => {
        this.#opts.rotation.apply(staged);
        this.#digest = d;
        this.#fingerprint = pair.fingerprint;
        this.#opts.logger.info({ fingerprint: pair.fingerprint, valid_to: pair.validTo }, 'TLS certificate replaced for new connections');
        this.#follow(tls);
      },
      abort: () => this.#opts.rotation.discard(staged),
    };
  }

  close(): void {
    this.#watcher.close();
    this.#opts.rotation.close();
  }

  /** Watches what `tls` names (or stops, with watch off). */
  #follow(tls: TlsConfig): void {
    this.#tls = tls;
    const watching = JSON.stringify([tls.watch, tls.cert_file, tls.key_file]);
    if (watching === this.#watching) return;
    this.#watching = watching;
    this.#watcher.watch(tls.watch && tls.cert_file !== null && tls.key_file !== null ? [tls.cert_file, tls.key_file] : []);
  }

  /** The watcher's look at the files: a reload only when they hold a new, usable pair. */
  #check(): CheckOutcome {
    let pair: CertificatePair;
    try {
      pair = readCertificatePair(this.#tls);
    } catch (err) {
      if (!(err instanceof ConfigError)) this.#opts.logger.error({ err }, 'certificate check failed');
      this.#opts.logger.debug({ problems: err instanceof ConfigError ? err.problems : [] }, 'certificate files changed but not usable yet; retrying');
      return 'not_ready';
    }
    if (digest(pair) === this.#digest) return 'unchanged';
    this.#opts.reload('tls_watch');
    return 'applied';
  }
}

function digest(pair: CertificatePair): string {
  return createHash('sha256').update(pair.certPem).update('\0').update(pair.keyPem).update('\0').update(pair.passphrase ?? '').digest('hex');
}
