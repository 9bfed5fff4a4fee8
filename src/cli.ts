#!/usr/bin/env -S node --max-semi-space-size=1
// Command-line entry: the only module that touches process (argv, env, signals, exit codes, stdio).
// First, so that signal listeners exist before anything else is evaluated (see cli-signals.ts; the bundle keeps it
// first: scripts/bundle.mjs).
import { onSignals, type HandledSignal } from './cli-signals.js';
import { start, type Relay } from './app.js';
import { parseCommandLine, UsageError, type Args } from './args.js';
import { LoaderFailure, loadConfigApart, loadConfigApartAsync } from './config/apart.js';
import type { LoadOptions } from './config/load.js';
import { redactedConfig } from './config/redact.js';
import type { Config } from './config/schema.js';
import { ExitCode, RelayError } from './errors.js';
import { buildExtensions } from './extensions.js';
import { createLogger, type Logger } from './logger.js';
import { loadUwsBuild, UWS_BUILD_ENV } from './relay/uws.js';
import type { ReloadResult } from './reload/reloader.js';
import { FAULT_ENV } from './workers/protocol.js';

function parseArgs(argv: readonly string[]): Args {
  try {
    const command = parseCommandLine(argv);
    if ('run' in command) return command.run;
    process.stdout.write(command.print);
    process.exit(ExitCode.ok);
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message} (see --help)`, ExitCode.config);
    throw err;
  }
}

function fail(message: string, code: number): never {
  process.stderr.write(`websocket-relay: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));

  let config: Config;
  // The same sources at start and at every reload, validated in a process of their own (config/apart.ts).
  const sources = (): LoadOptions => ({ file: args.configFile ?? null, env: { ...process.env }, set: args.set });
  try {
    config = await loadConfigApartAsync(sources()).catch(async (err: unknown) => {
      if (!(err instanceof LoaderFailure)) throw err;
      // Only memory is at stake: validate here instead.
      process.stderr.write(`websocket-relay: ${err.message}; loading the configuration in this process\n`);
      const { loadConfig } = await import('./config/load.js');
      return loadConfig(sources());
    });
  } catch (err) {
    if (err instanceof RelayError) fail(`invalid configuration:\n${err.message}`, err.exitCode);
    throw err;
  }
  if (args.printConfig) {
    const { dump } = await import('js-yaml');
    process.stdout.write(dump(redactedConfig(config)));
    return;
  }
  if (args.checkConfig) {
    process.stdout.write(`configuration ok${args.configFile ? `: ${args.configFile}` : ' (defaults)'}\n`);
    return;
  }

  const logger = createLogger(config.log.level);
  // A reload reads the sources again. SIGHUP has them read first and then reloads with what was read, so the event loop
  // does not wait for the loader process; so does POST /-/reload (metrics.reload_endpoint), through loadAhead.
  let prepared: { readonly config: Config } | { readonly error: unknown } | null = null;
  const load = (): Config => {
    if (prepared === null) return loadConfigApart(sources());
    if ('error' in prepared) throw prepared.error;
    return prepared.config;
  };
  const reread = async (): Promise<WithSources> => {
    const answer = await loadConfigApartAsync(sources()).then(
      (config) => ({ config }),
      (error: unknown) => ({ error }),
    );
    return (reload) => {
      prepared = answer;
      try {
        return reload();
      } finally {
        prepared = null;
      }
    };
  };
  const signals = handleSignals(logger, reread);
  let relay: Relay;
  try {
    // The build is chosen here because only the CLI reads the environment (WEBSOCKET_RELAY_UWS forces one).
    const uws = loadUwsBuild({ force: process.env[UWS_BUILD_ENV] });
    const failAfter = Number(process.env[FAULT_ENV] ?? '');
    relay = await start(config, {
      logger,
      uws,
      extensions: buildExtensions,
      load,
      loadAhead: reread,
      onWorkerFailure: () => process.exit(ExitCode.workerFailed),
      ...(failAfter > 0 ? { failWorkerAfterMs: failAfter } : {}),
    });
  } catch (err) {
    if (err instanceof RelayError) {
      logger.fatal({ code: err.code, err: err.cause }, err.message);
      fail(err.message, err.exitCode);
    }
    throw err;
  }
  logger.info(
    {
      ws_port: relay.wsPort,
      metrics_port: relay.metricsPort,
      tls: relay.tls,
      host: config.server.host,
      uws_version: relay.uws.version,
      node_version: process.version,
    },
    'relay listening',
  );
  signals.started(relay);
}

/** Runs a reload with the configuration sources as they were read just before (a reload's load() returns them). */
type WithSources = (reload: () => ReloadResult) => ReloadResult;

/** Exit codes of an immediate exit on a second stop signal: 128 + the signal number. */
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

/**
 * SIGINT, SIGTERM, SIGQUIT: graceful shutdown under a watchdog (a second one exits at once). SIGHUP: reload the
 * configuration. SIGUSR1, SIGUSR2: log a state summary (and never open the inspector). Signals that arrive during
 * startup are acted on once the relay runs; a stop signal during startup still shuts down gracefully.
 */
function handleSignals(logger: Logger, reread: () => Promise<WithSources>): { started(relay: Relay): void } {
  let relay: Relay | null = null;
  const pending: HandledSignal[] = [];
  let stopping = false;
  const startedAt = Date.now();
  let lastReload: { trigger: string; ok: boolean; at: string } | null = null;

  const stop = (signal: HandledSignal, running: Relay): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal, exiting now');
      exitNow(running, 128 + (SIGNAL_NUMBERS[signal] ?? 15));
      return;
    }
    stopping = true;
    // The shutdown keys in force now: a reload may have changed them since start.
    const timeout_s = running.config.shutdown.timeout_s;
    logger.info({ signal, timeout_s, drain_spread_s: running.config.shutdown.drain_spread_s }, 'shutting down');
    // Sockets still finishing their close handshake keep the event loop alive; past the deadline the
    // process exits anyway, which drops them.
    setTimeout(() => {
      logger.warn({ timeout_s }, 'shutdown timed out, closing remaining sockets');
      exitNow(running, ExitCode.shutdownTimeout);
    }, timeout_s * 1000).unref();
    void running.close().then(() => {
      logger.info('shutdown complete');
      process.exitCode = ExitCode.ok;
    });
  };

  const onSignal = (signal: HandledSignal): void => {
    const running = relay;
    if (running === null) {
      pending.push(signal);
      return;
    }
    switch (signal) {
      case 'SIGHUP': {
        if (stopping) {
          logger.info({ signal }, 'reload ignored: shutting down');
          return;
        }
        void reread().then((withSources) => {
          if (stopping) {
            logger.info({ signal }, 'reload ignored: shutting down');
            return;
          }
          const result = withSources(() => running.reload('SIGHUP'));
          lastReload = { trigger: signal, ok: result.ok, at: new Date().toISOString() };
        });
        return;
      }
      case 'SIGUSR1':
      case 'SIGUSR2': {
        const memory = process.memoryUsage();
        logger.info(
          {
            signal,
            connections: running.connections,
            workers: running.workers,
            ready: running.readiness.ready,
            shutting_down: stopping,
            uptime_s: Math.round((Date.now() - startedAt) / 1000),
            rss_bytes: memory.rss,
            heap_used_bytes: memory.heapUsed,
            tls_fingerprint: running.tlsFingerprint,
            last_signal_reload: lastReload,
          },
          'state',
        );
        return;
      }
      default:
        stop(signal, running);
    }
  };
  onSignals(onSignal);
  return {
    started(r) {
      relay = r;
      // A stop signal during startup wins over anything queued with it.
      const stopSignal = pending.find((s) => s in SIGNAL_NUMBERS);
      const queued = pending.splice(0);
      if (stopSignal !== undefined) onSignal(stopSignal);
      else for (const s of queued) onSignal(s);
    },
  };
}

/** How long the threads get to drop their connections before the process exits regardless (ms). */
const EXIT_GRACE_MS = 2000;

/**
 * Exits with `code` once every thread has dropped its connections: a worker thread that still holds a socket when the
 * process exits aborts it (SIGABRT) instead of exiting with `code`.
 */
function exitNow(running: Relay, code: number): void {
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  void running.terminate().then(() => process.exit(code));
}

main().catch((err: unknown) => {
  process.stderr.write(`websocket-relay: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(ExitCode.unexpected);
});
