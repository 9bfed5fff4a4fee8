// Composition root: wires config, logger, metrics, the uWS threads and the metrics server; returns the bound ports
// and an idempotent close(). Touches no process state: the CLI owns argv, env, signals and exit. What is per process
// (metrics server, capacity, admission, backplane, reload) is built here once; each uWS thread runs a Shard.
import { setTimeout as delay } from 'node:timers/promises';
import type { MessagePort } from 'node:worker_threads';
import { buildCapacity, type Capacity } from './capacity/index.js';
import { GateState } from './capacity/gate.js';
import type { Config } from './config/schema.js';
import type { ExtensionContext, ExtensionFactory } from './contracts.js';
import { ConfigError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { setLogLevel, type Logger } from './logger.js';
import { registerBuildInfo } from './metrics/build-info.js';
import { createMetrics, type RelayMetrics } from './metrics/registry.js';
import { MetricsServer, Readiness } from './metrics/server.js';
import { registerLinkDrops, registerThreadSeries, summedOver } from './metrics/threads.js';
import { backpressureReloadCheck, resolveLimits, type BackpressureGuard } from './relay/backpressure.js';
import { defaultBackpressureBudget, memoryLimit } from './relay/memory.js';
import { readCertificatePair, type Rotation } from './relay/tls.js';
import { claimPort, loadUwsBuild, type UwsBuild } from './relay/uws.js';
import { CertificateReload } from './reload/certificates.js';
import { ConfigReloader, type ReloadResult, type ReloadTrigger } from './reload/reloader.js';
import { AdmissionHost } from './workers/admission.js';
import { workerCount, type CpuReadings } from './workers/count.js';
import { TopicInterest } from './workers/interest.js';
import { Mesh, bridge, linkBound, type MeshEnds } from './workers/mesh.js';
import { WorkerPool, admissionChannel, meshEnds } from './workers/pool.js';
import { Shard } from './workers/shard.js';

export interface StartDeps {
  readonly logger: Logger;
  /** The uWebSockets.js build; the newest that loads natively here when omitted (see loadUwsBuild). */
  readonly uws?: UwsBuild;
  /** Builds the extensions for this config; may register closers on the lifecycle. They run on the main thread. */
  readonly extensions?: ExtensionFactory;
  /**
   * Reads the configuration again from the sources it came from (file, RELAY_* env, --set), for reloads.
   * @throws ConfigError. Without it a reload re-applies the running configuration (re-reading certificate and key files).
   */
  readonly load?: () => Config;
  /**
   * Reads the sources ahead of a reload without blocking the event loop; the function it resolves with runs a reload
   * whose load() returns what was read. `POST /-/reload` uses it when given, so the relay keeps relaying meanwhile.
   */
  readonly loadAhead?: () => Promise<(reload: () => ReloadResult) => ReloadResult>;
  /**
   * A worker thread failed: the relay has already logged it and dropped every connection; the CLI exits non-zero.
   * Called once.
   */
  readonly onWorkerFailure?: () => void;
  /** What server.workers: auto reads (tests); this process's CPUs and cgroup quota by default. */
  readonly cpus?: CpuReadings;
  /** Fault injection for tests: the last worker thread throws an uncaught error this long after it listens (ms). */
  readonly failWorkerAfterMs?: number;
}

/** A running relay. */
export interface Relay {
  readonly wsPort: number;
  /** null when metrics are disabled. */
  readonly metricsPort: number | null;
  readonly tls: boolean;
  /** uWS threads serving clients (server.workers resolved): the main thread and workers - 1 worker threads. */
  readonly workers: number;
  /** WebSocket connections open now, on every thread. */
  readonly connections: number;
  /** The main thread's slow-consumer guard (its `state` holds queued bytes, cuts and shed messages of that thread). */
  readonly backpressure: BackpressureGuard;
  readonly metrics: RelayMetrics;
  /** The metrics text /metrics serves: every thread's series summed. Still answers after close(), with the final counts. */
  scrape(): Promise<string>;
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
   * Graceful shutdown: /readyz turns 503, (after shutdown.drain_delay_s) every thread stops accepting and sends each
   * of its clients 1001, extensions and the metrics server close, the worker threads end. Idempotent; never rejects.
   */
  close(): Promise<void>;
  /**
   * Drops every connection on every thread at once, without close frames, then closes the rest as close() does: for
   * a shutdown that ran out of time. Resolves when the process may exit. Idempotent; never rejects.
   */
  terminate(): Promise<void>;
}

/**
 * Starts the relay on a validated config: the main thread's uWS app, and with server.workers > 1 as many worker
 * threads on the same port, tied into one relay (workers/).
 * @throws ConfigError (TLS files uWS cannot use), ListenError (a port cannot be bound), NativeBindingError
 */
export async function start(config: Config, deps: StartDeps): Promise<Relay> {
  const logger = deps.logger;
  const build = deps.uws ?? loadUwsBuild();
  const lifecycle = new Lifecycle(logger);
  const readiness = new Readiness();
  readiness.block('relay', 'starting');
  const threads = workerCount(config.server.workers, deps.cpus);
  logger.info({ workers: threads.count, why: threads.why }, `${threads.count} uWS thread${threads.count === 1 ? '' : 's'}`);
  const gateState = new GateState(GateState.allocate(threads.count), 0);

  let capacity: Capacity | undefined;
  let reloader: ConfigReloader | undefined;
  let pool: WorkerPool | null = null;
  let shard: Shard | undefined;
  // Added first, so it runs last. After a drain each worker thread ends by itself once its last client is gone (as a
  // single thread's process does); a start that failed has none drained, and closes them.
  lifecycle.add('worker threads', () => (drained ? pool?.ended() : pool?.close()));
  let drained = false;
  const reload = (trigger: ReloadTrigger = 'api', sameSources = true): ReloadResult => {
    if (reloader === undefined || lifecycle.closing) return { ok: false, problems: ['the relay is starting or shutting down'], applied: [], restartOnly: [] };
    return reloader.reload(trigger, { sameSources });
  };
  let terminated: Promise<void> | null = null;
  const terminate = (): Promise<void> => {
    terminated ??= (async () => {
      readiness.block('shutdown', 'terminating');
      shard?.close();
      await pool?.close();
      await lifecycle.close();
    })();
    return terminated;
  };
  const metrics = createMetrics({
    activeConnections: () => gateState.open,
    connectionLimit: () => capacity?.maxConnections ?? config.limits.max_connections,
  });
  registerBuildInfo(metrics.registry, build.version);
  registerThreadSeries(metrics.registry, gateState);

  const exposition = threads.count === 1 ? metrics.registry : summedOver(metrics.registry, () => pool?.metrics() ?? Promise.resolve([]));
  try {
    let metricsPort: number | null = null;
    if (config.metrics.enabled) {
      const server = new MetricsServer({
        registry: exposition,
        readiness,
        path: config.metrics.path,
        ...(config.metrics.reload_endpoint ? { reload: () => (deps.loadAhead === undefined ? reload('http') : deps.loadAhead().then((withSources) => withSources(() => reload('http')))) } : {}),
      });
      metricsPort = await server.listen(config.metrics.host, config.metrics.port);
      lifecycle.add('metrics server', () => server.close());
    }
    // A reload may turn on an admission or limiter the relay started without; wired to the hubs once they exist.
    let plugIn: NonNullable<ExtensionContext['plugIn']> = () => {};
    const extensions =
      (await deps.extensions?.({ config, logger, registry: metrics.registry, readiness, lifecycle, plugIn: (late) => plugIn(late) })) ?? {};
    if (threads.count > 1 && extensions.limiter !== undefined && extensions.limiterFromLimits !== true) {
      throw new ConfigError([
        `server.workers: a message limiter other than the one limits.* builds would run on the main thread only; set server.workers to 1 to use it (${threads.why} gave ${threads.count})`,
      ]);
    }
    // After the metrics server and extensions opened their descriptors: the file budget keeps what is open now.
    const protection = buildCapacity({ limits: config.limits, logger, registry: metrics.registry, readiness, state: gateState });
    capacity = protection;
    const defaultBudget = defaultBackpressureBudget(memoryLimit());
    const ends = threads.count > 1 ? meshEnds(threads.count) : null;
    const interest = threads.count > 1 ? TopicInterest.allocate(threads.count) : null;
    const linkBytes = linkBound(resolveLimits(config.relay, () => defaultBudget).budgetBytes, threads.count);
    const mesh = ends === null || interest === null ? null : new Mesh(ends[0] as MeshEnds, new TopicInterest(interest, 0), linkBytes);
    const host = extensions.admission !== undefined && threads.count > 1 ? new AdmissionHost(extensions.admission) : null;
    const backplane = mesh === null ? extensions.backplane : extensions.backplane === undefined ? mesh : bridge(mesh, extensions.backplane);
    const admission = host?.local ?? extensions.admission;
    const main: Shard = new Shard({
      config,
      build,
      logger,
      registry: metrics.registry,
      counters: metrics.counters,
      observer: metrics,
      gate: protection.gate,
      defaultBudget: () => defaultBudget,
      threads: threads.count,
      ...(admission === undefined ? {} : { admission }),
      ...(extensions.limiter === undefined ? {} : { limiter: extensions.limiter }),
      ...(backplane === undefined ? {} : { backplane }),
      ...(mesh === null ? {} : { interest: mesh.interest }),
    });
    shard = main;
    registerLinkDrops(metrics.registry, () => mesh?.dropped ?? 0);
    plugIn = (late) => {
      if (late.admission !== undefined) {
        if (pool === null) {
          main.hub.useAdmission(late.admission);
        } else {
          const lateHost = new AdmissionHost(late.admission);
          main.hub.useAdmission(lateHost.local);
          pool.plugAdmission((mainEnd) => lateHost.serve(mainEnd));
        }
      }
      // Worker threads build their own limiter from the reloaded limits (see workers/thread.ts).
      if (late.limiter !== undefined) main.hub.useLimiter(late.limiter);
    };
    lifecycle.add('backpressure sweep', () => main.guard.close());
    if (mesh !== null) lifecycle.add('thread links', () => mesh.close());
    logger.info(
      { budget_bytes: main.guard.budgetBytes * threads.count, soft_bytes: config.relay.soft_backpressure_bytes, max_stall_s: config.relay.max_stall_s, read_timeout_s: config.relay.read_timeout_s },
      'slow-consumer limits',
    );
    const live = new ConfigReloader({
      config,
      ...(deps.load === undefined ? {} : { load: deps.load }),
      logger: logger.child({ room: 'reload' }),
      registry: metrics.registry,
      payloadCeiling: main.hub.payloadCeiling,
    });
    live.add({ name: 'relay', prepare: (next) => ({ commit: () => main.reconfigure(next.relay) }) });
    live.add({ name: 'log', prepare: (next) => ({ commit: () => setLogLevel(logger, next.log.level) }) });
    live.add(protection.reloadStep);
    live.add(backpressureReloadCheck(() => main.guard.limits));
    for (const step of extensions.reloadSteps ?? []) live.add(step);
    // The worker threads apply what the main thread's steps applied: their hubs' relay keys, log level and rate limits.
    live.add({ name: 'workers', prepare: (next) => ({ commit: () => pool?.reload(next) }) });
    let certificates: CertificateReload | null = null;
    const own = main.certificates;
    if (own !== null) {
      const tlsLogger = logger.child({ room: 'tls' });
      // Each thread applies the new certificate to its own apps (in SNI contexts, or a new app: workers/shard.ts).
      const rotation: Rotation = {
        stage: (pair, tls) => own.stage(pair, tls),
        discard: (staged) => own.discard(staged),
        apply: (staged) => {
          own.apply(staged);
          pool?.certificate(staged);
        },
        close: () => own.close(),
      };
      const reloadCerts = new CertificateReload({
        rotation,
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
      // Every thread at once; with drain_spread_s, each paces its own closes over that window.
      const spreadMs = live.config.shutdown.drain_spread_s * 1000;
      // Before any thread is told: a thread still listening must not admit a client the drain has already passed.
      gateState.drain();
      await Promise.all([main.drain(spreadMs), pool?.drain(spreadMs)]);
      drained = true;
    });
    lifecycle.add('capacity', () => protection.close());
    // Threads share the port through SO_REUSEPORT (and so does a new app for a replaced certificate), which would also
    // let them join a port another process holds: the port is claimed exclusively first.
    const shared = threads.count > 1 || config.server.tls.cert_file !== null;
    const port = shared ? await claimPort(build.uws, config.server.host, config.server.port, 'server') : config.server.port;
    const wsPort = await main.hub.listen(config.server.host, port, shared);
    if (shared) {
      const channels = host === null ? null : new Map<number, MessagePort>();
      pool = await WorkerPool.start(
        {
          threads: threads.count,
          config,
          uws: build.version,
          gate: gateState.buffer,
          interest: interest ?? TopicInterest.allocate(0),
          logger,
          host: config.server.host,
          port: wsPort,
          defaultBudget,
          linkBytes,
          failAfterMs: deps.failWorkerAfterMs ?? null,
          admission:
            host === null || channels === null
              ? null
              : (index) => {
                  const [mainEnd, workerEnd] = admissionChannel();
                  host.serve(mainEnd);
                  channels.set(index, mainEnd);
                  return workerEnd;
                },
          onFatal: (index, message, stack) => {
            logger.fatal({ worker: index, err: { message, stack } }, `worker thread ${index} failed: ${message}; the relay stops`);
            void terminate().then(() => deps.onWorkerFailure?.());
          },
        },
        ends ?? [],
      );
    }
    protection.start({
      pause: () => {
        main.hub.pauseListening();
        pool?.pause();
      },
      resume: async () => (await main.hub.resumeListening()) && ((await pool?.resume()) ?? true),
    });
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
      workers: threads.count,
      get connections() {
        return gateState.open;
      },
      backpressure: main.guard,
      metrics,
      scrape: () => exposition.metrics(),
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
      terminate,
    };
  } catch (err) {
    shard?.close();
    await lifecycle.close();
    throw err;
  }
}
