// Composition root: wires config, logger, metrics, the uWS hub and the metrics server; returns the bound
// ports and an idempotent close(). Touches no process state: the CLI owns argv, env, signals and exit.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { buildCapacity, type Capacity } from './capacity/index.js';
import { DRAIN_GRACE_S, type Config } from './config/schema.js';
import type { ExtensionFactory } from './contracts.js';
import { mountDemoPage } from './demo/page.js';
import { ConfigError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { setLogLevel, type Logger } from './logger.js';
import { backpressureMetrics } from './metrics/backpressure.js';
import { createMetrics, type RelayMetrics } from './metrics/registry.js';
import { MetricsServer, Readiness } from './metrics/server.js';
import { BackpressureGuard, resolveLimits, type BackpressureState } from './relay/backpressure.js';
import { pacedEnd } from './relay/drain.js';
import { Hub } from './relay/hub.js';
import { defaultBackpressureBudget, memoryLimit } from './relay/memory.js';
import { CloseCode } from './relay/protocol.js';
import { CertificateRotation, readCertificatePair } from './relay/tls.js';
import { loadUwsBuild, type TemplatedApp, type UwsBuild, type UwsModule } from './relay/uws.js';
import { CertificateReload } from './reload/certificates.js';
import { ConfigReloader, type ReloadResult, type ReloadTrigger } from './reload/reloader.js';
import { registerBuildInfo } from './metrics/build-info.js';

/** How long clients get to complete the close handshake after 1001 before their connections are dropped (ms). */
const CLOSE_HANDSHAKE_GRACE_MS = DRAIN_GRACE_S * 1000;

export interface StartDeps {
  readonly logger: Logger;
  /** The uWebSockets.js build; the newest that loads natively here when omitted (see loadUwsBuild). */
  readonly uws?: UwsBuild;
  /** Builds the extensions for this config; may register closers on the lifecycle. */
  readonly extensions?: ExtensionFactory;
  /**
   * Reads the configuration again from the sources it came from (file, RELAY_* env, --set), for reloads.
   * @throws ConfigError. Without it a reload re-applies the running configuration (re-reading certificate and key files).
   */
  readonly load?: () => Config;
}

/** A running relay. */
export interface Relay {
  readonly wsPort: number;
  /** null when metrics are disabled. */
  readonly metricsPort: number | null;
  readonly tls: boolean;
  readonly hub: Hub;
  /** The slow-consumer guard (its `state` holds queued bytes, cuts and shed messages). */
  readonly backpressure: BackpressureGuard;
  readonly metrics: RelayMetrics;
  readonly readiness: Readiness;
  /** The configuration in force (after reloads; restart-only keys keep their value from start). */
  readonly config: Config;
  /** SHA-256 fingerprint of the certificate new TLS handshakes get; null without TLS. */
  readonly tlsFingerprint: string | null;
  /**
   * Reloads the configuration from its sources and applies what can change live, all or nothing; logged and counted
   * (relay_config_reloads_total). Never throws. Refused while shutting down.
   */
  reload(trigger?: ReloadTrigger): ReloadResult;
  /** The uWebSockets.js build in use. */
  readonly uws: UwsBuild;
  /**
   * Graceful shutdown: /readyz turns 503, (after shutdown.drain_delay_s) the listener closes, every client gets
   * 1001, extensions and the metrics server close. Idempotent; never rejects.
   */
  close(): Promise<void>;
}

/**
 * Starts the relay on a validated config.
 * @throws ConfigError (TLS files uWS cannot use), ListenError (a port cannot be bound), NativeBindingError
 */
export async function start(config: Config, deps: StartDeps): Promise<Relay> {
  const logger = deps.logger;
  const build = deps.uws ?? loadUwsBuild();
  const uws = build.uws;
  const lifecycle = new Lifecycle(logger);
  const readiness = new Readiness();
  readiness.block('relay', 'starting');

  let hub: Hub | undefined;
  let capacity: Capacity | undefined;
  let reloader: ConfigReloader | undefined;
  const reload = (trigger: ReloadTrigger = 'api', sameSources = true): ReloadResult => {
    if (reloader === undefined || lifecycle.closing) return { ok: false, problems: ['the relay is starting or shutting down'], applied: [], restartOnly: [] };
    return reloader.reload(trigger, { sameSources });
  };
  const metrics = createMetrics(
    () => hub?.connections ?? 0,
    () => capacity?.maxConnections ?? config.limits.max_connections,
  );
  registerBuildInfo(metrics.registry, build.version);
  const app = createApp(uws, config);

  try {
    let metricsPort: number | null = null;
    if (config.metrics.enabled) {
      const server = new MetricsServer({
        registry: metrics.registry,
        readiness,
        path: config.metrics.path,
        ...(config.metrics.reload_endpoint ? { reload: () => reload('http') } : {}),
      });
      metricsPort = await server.listen(config.metrics.host, config.metrics.port);
      lifecycle.add('metrics server', () => server.close());
    }
    const extensions = (await deps.extensions?.({ config, logger, registry: metrics.registry, readiness, lifecycle })) ?? {};
    // After the metrics server and extensions opened their descriptors: the file budget keeps what is open now.
    const protection = buildCapacity({ limits: config.limits, logger, registry: metrics.registry, readiness });
    capacity = protection;
    const limits = resolveLimits(config.relay, () => defaultBackpressureBudget(memoryLimit()));
    const guard: BackpressureGuard = new BackpressureGuard({
      ...limits,
      cutter: () => started,
      observer: backpressureMetrics(metrics.registry, (): BackpressureState => guard.state, limits.budgetBytes),
      logger: logger.child({ room: 'backpressure' }),
      now: () => performance.now(),
    });
    const started: Hub = new Hub({
      uws,
      features: build.features,
      app,
      relay: config.relay,
      logger: logger.child({ room: 'hub' }),
      counters: metrics.counters,
      observer: metrics,
      flow: guard,
      gate: protection.gate,
      ...extensions,
    });
    hub = started;
    guard.start();
    lifecycle.add('backpressure sweep', () => guard.close());
    logger.info({ budget_bytes: limits.budgetBytes, soft_bytes: limits.softBytes, max_stall_s: config.relay.max_stall_s }, 'slow-consumer limits');
    if (config.server.demo_page) mountDemoPage(app);
    const live = new ConfigReloader({
      config,
      ...(deps.load === undefined ? {} : { load: deps.load }),
      logger: logger.child({ room: 'reload' }),
      registry: metrics.registry,
      payloadCeiling: started.payloadCeiling,
    });
    live.add({ name: 'relay', prepare: (next) => ({ commit: () => started.reconfigure(next.relay) }) });
    live.add({ name: 'log', prepare: (next) => ({ commit: () => setLogLevel(logger, next.log.level) }) });
    live.add(protection.reloadStep);
    for (const step of extensions.reloadSteps ?? []) live.add(step);
    let certificates: CertificateReload | null = null;
    if (config.server.tls.cert_file !== null) {
      const tlsLogger = logger.child({ room: 'tls' });
      // A new SNI context starts with an empty router: it gets the same routes as the app itself.
      const route = (serverName: string): void => {
        started.routeServerName(serverName);
        if (config.server.demo_page) mountDemoPage(app);
      };
      const reloadCerts = new CertificateReload({
        rotation: new CertificateRotation({ app, route, logger: tlsLogger }),
        initial: readCertificatePair(config.server.tls),
        tls: config.server.tls,
        logger: tlsLogger,
        reload: (trigger) => reload(trigger, false),
      });
      certificates = reloadCerts;
      live.add(reloadCerts);
      lifecycle.add('certificate watch', () => reloadCerts.close());
    }
    reloader = live;
    lifecycle.add('websocket clients', async () => {
      started.stopAccepting();
      // With drain_spread_s, the closes are paced over that window; either way each client gets 1001.
      await pacedEnd(started.openSockets(), live.config.shutdown.drain_spread_s * 1000, (ws) => {
        if (started.isOpen(ws)) started.endSocket(ws, 'shutdown', CloseCode.goingAway, 'server shutting down');
      });
      // Clients answer the 1001 close frame within milliseconds; one that does not (it stopped reading, or never
      // finished its HTTP request) would keep the process alive. Unref'd: a clean shutdown does not wait for it.
      setTimeout(() => started.closeConnections(), CLOSE_HANDSHAKE_GRACE_MS).unref();
    });
    lifecycle.add('capacity', () => protection.close());
    const wsPort = await started.listen(config.server.host, config.server.port);
    protection.start({ pause: () => started.pauseListening(), resume: () => started.resumeListening() });
    // Added last, so it runs first; and only once listening, so a failed start does not wait out the drain delay.
    lifecycle.add('readiness', async () => {
      readiness.block('shutdown', 'draining');
      const drainDelay = live.config.shutdown.drain_delay_s;
      if (drainDelay > 0) await delay(drainDelay * 1000);
    });
    readiness.unblock('relay');
    return {
      wsPort,
      metricsPort,
      tls: config.server.tls.cert_file !== null,
      hub: started,
      backpressure: guard,
      metrics,
      readiness,
      get config() {
        return live.config;
      },
      get tlsFingerprint() {
        return certificates?.fingerprint ?? null;
      },
      reload: (trigger) => reload(trigger),
      uws: build,
      close: () => lifecycle.close(),
    };
  } catch (err) {
    await lifecycle.close();
    throw err;
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
