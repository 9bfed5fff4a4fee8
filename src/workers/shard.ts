// One uWS thread's relay: its app, hub and slow-consumer guard. The main thread builds one, and so does every worker
// thread (thread.ts); what is process-wide (metrics server, capacity, admission, backplane, reload) is built once, in
// app.ts, and reaches a shard through the contracts it takes (gate, admission, backplane).
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { Config, RelayConfig } from '../config/schema.js';
import type { Admission, Backplane, MessageLimiter, UpgradeGate } from '../contracts.js';
import { mountDemoPage } from '../demo/page.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { backpressureMetrics } from '../metrics/backpressure.js';
import type { HubCounters, HubObserver, TopicWatcher } from '../relay/hub.js';
import { BackpressureGuard, resolveLimits, type BackpressureState, type ResolvedLimits } from '../relay/backpressure.js';
import { DRAIN_GRACE_S, pacedEnd } from '../relay/drain.js';
import { Hub } from '../relay/hub.js';
import { CloseCode } from '../relay/protocol.js';
import type { TemplatedApp, UwsBuild, UwsModule } from '../relay/uws.js';
import { CertificateRotation, type Rotation, type StagedCertificate } from '../relay/tls.js';

/** How long clients get to complete the close handshake after 1001 before their connections are dropped (ms). */
const CLOSE_HANDSHAKE_GRACE_MS = DRAIN_GRACE_S * 1000;

export interface ShardOptions {
  readonly config: Config;
  readonly build: UwsBuild;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly counters: HubCounters;
  readonly observer: HubObserver;
  readonly gate: UpgradeGate;
  /** relay.max_total_backpressure_bytes when configured as 0 (bytes); read only then. */
  readonly defaultBudget: () => number;
  /** uWS threads in the process: each holds an equal share of the backpressure budget, so their sum stays within it. */
  readonly threads: number;
  readonly admission?: Admission;
  readonly limiter?: MessageLimiter;
  readonly backplane?: Backplane;
  /** Told when a topic gets its first and loses its last subscriber on this thread (workers/interest.ts). */
  readonly interest?: TopicWatcher;
}

/** One thread's relay. */
export class Shard {
  readonly app: TemplatedApp;
  readonly hub: Hub;
  readonly guard: BackpressureGuard;
  readonly #demoPage: boolean;
  readonly #uws: UwsModule;
  readonly #logger: Logger;
  #rotation: CertificateRotation | null = null;
  /** Rotations of replaced apps: closed (their private copies removed) with the shard. */
  readonly #retired: CertificateRotation[] = [];
  /** This thread's slow-consumer limits from `relay:` (its share of the budget). */
  readonly #limits: (relay: RelayConfig) => ResolvedLimits;

  /** @throws ConfigError when uWS cannot use the TLS files */
  constructor(opts: ShardOptions) {
    const { config, build, logger } = opts;
    this.#demoPage = config.server.demo_page;
    this.#uws = build.uws;
    this.#logger = logger.child({ room: 'tls' });
    this.app = createApp(build.uws, config);
    this.#limits = (relay) => {
      const total = resolveLimits(relay, opts.defaultBudget);
      return { ...total, budgetBytes: Math.floor(total.budgetBytes / opts.threads) };
    };
    const limits = this.#limits(config.relay);
    const guard: BackpressureGuard = new BackpressureGuard({
      ...limits,
      cutter: () => hub,
      observer: backpressureMetrics(opts.registry, (): BackpressureState => guard.state, () => guard.budgetBytes),
      logger: logger.child({ room: 'backpressure' }),
      now: () => performance.now(),
    });
    this.guard = guard;
    const hub: Hub = new Hub({
      uws: build.uws,
      features: build.features,
      app: this.app,
      relay: config.relay,
      logger: logger.child({ room: 'hub' }),
      counters: opts.counters,
      observer: opts.observer,
      flow: guard,
      gate: opts.gate,
      ...(opts.admission === undefined ? {} : { admission: opts.admission }),
      ...(opts.limiter === undefined ? {} : { limiter: opts.limiter }),
      ...(opts.backplane === undefined ? {} : { backplane: opts.backplane }),
      ...(opts.interest === undefined ? {} : { topics: opts.interest }),
    });
    this.hub = hub;
    guard.start();
    if (this.#demoPage) mountDemoPage(this.app);
    if (config.server.tls.cert_file === null) {
      this.certificates = null;
    } else {
      this.#rotation = this.#rotationFor(this.app);
      const current = (): CertificateRotation => this.#rotation as CertificateRotation;
      this.certificates = {
        stage: (pair, tls) => current().stage(pair, tls),
        discard: (staged) => current().discard(staged),
        apply: (staged) => (current().served ? this.#newApp(staged) : current().apply(staged)),
        close: () => {
          for (const rotation of [...this.#retired, current()]) rotation.close();
        },
      };
    }
  }

  /** The live relay keys (echo, max_payload_bytes, the slow-consumer limits) from a reloaded configuration. */
  reconfigure(relay: RelayConfig): void {
    this.hub.reconfigure(relay);
    this.guard.setLimits(this.#limits(relay));
  }

  /**
   * Certificate replacement for this thread (null without TLS). While no handshake has used a replacement, a new
   * certificate goes into SNI contexts of the app in service (relay/tls.ts); after that, replacing them in place would
   * crash uWS, so the new certificate gets an app of its own on the same port instead (hub.addApp): it takes the new
   * connections, with or without SNI, and the previous app keeps its connections until they leave.
   */
  readonly certificates: Rotation | null;

  /** @throws ListenError when a new app cannot bind the port, Error when its certificate files are unusable */
  #newApp(staged: StagedCertificate): void {
    let app: TemplatedApp;
    try {
      app = this.#uws.SSLApp(staged.files);
    } catch (err) {
      throw new Error('uWS could not use the new certificate files', { cause: err });
    }
    this.hub.addApp(app);
    if (this.#demoPage) mountDemoPage(app);
    this.#retired.push(this.#rotation as CertificateRotation);
    this.#rotation = this.#rotationFor(app);
    this.#logger.info({ fingerprint: staged.pair.fingerprint, apps: this.hub.apps }, 'new certificate served by a new uWS app; the previous one keeps its connections');
  }

  #rotationFor(app: TemplatedApp): CertificateRotation {
    return new CertificateRotation({
      app,
      route: (serverName) => {
        // A new SNI context starts with an empty router: it gets the same routes as the app itself.
        this.hub.routeServerName(serverName, app);
        if (this.#demoPage) mountDemoPage(app);
      },
      logger: this.#logger,
    });
  }

  /**
   * Refuses new upgrades, closes the listener and sends every client 1001 (paced over `spreadMs`); connections that
   * do not finish their close handshake are dropped after a grace period. Resolves when every close frame is queued.
   */
  async drain(spreadMs: number): Promise<void> {
    const hub = this.hub;
    hub.stopAccepting();
    await pacedEnd(hub.openSockets(), spreadMs, (ws) => {
      if (hub.isOpen(ws)) hub.endSocket(ws, 'shutdown', CloseCode.goingAway, 'server shutting down');
    });
    // Clients answer the 1001 close frame within milliseconds; one that does not (it stopped reading, or never
    // finished its HTTP request) would keep the thread alive. Unref'd: a clean shutdown does not wait for it.
    setTimeout(() => hub.closeConnections(), CLOSE_HANDSHAKE_GRACE_MS).unref();
  }

  /** Drops every connection at once without close frames and stops the sweep: the thread can end. Idempotent. */
  close(): void {
    this.guard.close();
    this.hub.closeConnections();
  }
}

function createApp(uws: UwsModule, config: Config): TemplatedApp {
  const { cert_file, key_file, passphrase } = config.server.tls;
  if (cert_file === null || key_file === null) return uws.App();
  try {
    return uws.SSLApp({ cert_file_name: cert_file, key_file_name: key_file, ...(passphrase === null ? {} : { passphrase }) });
  } catch (err) {
    throw new ConfigError([`server.tls: the certificate or key could not be used (wrong passphrase, or key and certificate do not match)`], {
      cause: err,
    });
  }
}
