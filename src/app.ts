// Composition root: wires config, logger, metrics, the uWS hub and the metrics server; returns the bound
// ports and an idempotent close(). Touches no process state: the CLI owns argv, env, signals and exit.
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from './config/schema.js';
import type { ExtensionFactory } from './contracts.js';
import { mountDemoPage } from './demo/page.js';
import { ConfigError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createMetrics, type RelayMetrics } from './metrics/registry.js';
import { MetricsServer, Readiness } from './metrics/server.js';
import { Hub } from './relay/hub.js';
import { CloseCode } from './relay/protocol.js';
import { loadUws, type TemplatedApp, type UwsModule } from './relay/uws.js';

/** How long clients get to complete the close handshake after 1001 before their connections are dropped (ms). */
const CLOSE_HANDSHAKE_GRACE_MS = 1000;

export interface StartDeps {
  readonly logger: Logger;
  /** The uWebSockets.js module; loaded (and checked for its native build) when omitted. */
  readonly uws?: UwsModule;
  /** Builds the extensions for this config; may register closers on the lifecycle. */
  readonly extensions?: ExtensionFactory;
}

/** A running relay. */
export interface Relay {
  readonly wsPort: number;
  /** null when metrics are disabled. */
  readonly metricsPort: number | null;
  readonly tls: boolean;
  readonly hub: Hub;
  readonly metrics: RelayMetrics;
  readonly readiness: Readiness;
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
  const uws = deps.uws ?? loadUws();
  const lifecycle = new Lifecycle(logger);
  const readiness = new Readiness();
  readiness.block('relay', 'starting');

  let hub: Hub | undefined;
  const metrics = createMetrics(
    () => hub?.connections ?? 0,
    () => config.limits.max_connections,
  );
  const app = createApp(uws, config);

  try {
    let metricsPort: number | null = null;
    if (config.metrics.enabled) {
      const server = new MetricsServer({ registry: metrics.registry, readiness, path: config.metrics.path });
      metricsPort = await server.listen(config.metrics.host, config.metrics.port);
      lifecycle.add('metrics server', () => server.close());
    }
    const extensions = (await deps.extensions?.({ config, logger, registry: metrics.registry, readiness, lifecycle })) ?? {};
    const started = new Hub({
      uws,
      app,
      relay: config.relay,
      logger: logger.child({ room: 'hub' }),
      counters: metrics.counters,
      observer: metrics,
      ...extensions,
    });
    hub = started;
    if (config.server.demo_page) mountDemoPage(app);
    lifecycle.add('websocket clients', () => {
      started.stopAccepting();
      started.endAll('shutdown', CloseCode.goingAway, 'server shutting down');
      // Clients answer the 1001 close frame within milliseconds; one that does not (it stopped reading, or never
      // finished its HTTP request) would keep the process alive. Unref'd: a clean shutdown does not wait for it.
      setTimeout(() => started.closeConnections(), CLOSE_HANDSHAKE_GRACE_MS).unref();
    });
    const wsPort = await started.listen(config.server.host, config.server.port);
    // Added last, so it runs first; and only once listening, so a failed start does not wait out the drain delay.
    lifecycle.add('readiness', async () => {
      readiness.block('shutdown', 'draining');
      if (config.shutdown.drain_delay_s > 0) await delay(config.shutdown.drain_delay_s * 1000);
    });
    readiness.unblock('relay');
    return {
      wsPort,
      metricsPort,
      tls: config.server.tls.cert_file !== null,
      hub: started,
      metrics,
      readiness,
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
