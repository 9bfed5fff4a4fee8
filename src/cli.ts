#!/usr/bin/env node
// Command-line entry: the only module that touches process (argv, env, signals, exit codes, stdio).
import { dump } from 'js-yaml';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { start, type Relay } from './app.js';
import { loadConfig } from './config/load.js';
import { redactedConfig } from './config/redact.js';
import type { Config } from './config/schema.js';
import { ExitCode, RelayError } from './errors.js';
import { buildExtensions } from './extensions.js';
import { createLogger, type Logger } from './logger.js';

interface Args {
  configFile: string | undefined;
  checkConfig: boolean;
  printConfig: boolean;
  set: string[];
}

function parseArgs(argv: string[]): Args {
  const parsed = yargs(argv)
    .scriptName('websocket-relay')
    .usage('$0 [--config-file relay.yaml]\n\nWebSocket fan-out relay: every message any client sends reaches every connected client.')
    .option('config-file', { alias: 'c', type: 'string', describe: 'YAML config file (defaults apply to every key it omits)' })
    .option('check-config', { type: 'boolean', default: false, describe: 'validate the configuration and exit (0 valid, 2 invalid)' })
    .option('print-config', { type: 'boolean', default: false, describe: 'print the effective configuration as YAML and exit' })
    .option('set', {
      type: 'string',
      array: true,
      default: [],
      describe: 'override one key, e.g. --set server.port=9000 (wins over RELAY_* env and the file)',
    })
    .env(false)
    .strict()
    .version()
    .help()
    .alias('h', 'help')
    .fail((msg, err) => fail(`${msg || err?.message || 'invalid arguments'} (see --help)`, ExitCode.config))
    .parseSync();
  return {
    configFile: parsed['config-file'],
    checkConfig: parsed['check-config'],
    printConfig: parsed['print-config'],
    set: parsed.set.map(String),
  };
}

function fail(message: string, code: number): never {
  process.stderr.write(`websocket-relay: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const args = parseArgs(hideBin(process.argv));

  let config: Config;
  try {
    config = loadConfig({ file: args.configFile ?? null, env: process.env, set: args.set });
  } catch (err) {
    if (err instanceof RelayError) fail(`invalid configuration:\n${err.message}`, err.exitCode);
    throw err;
  }
  if (args.printConfig) {
    process.stdout.write(dump(redactedConfig(config)));
    return;
  }
  if (args.checkConfig) {
    process.stdout.write(`configuration ok${args.configFile ? `: ${args.configFile}` : ' (defaults)'}\n`);
    return;
  }

  const logger = createLogger(config.log.level);
  const signals = handleSignals(config, logger);
  let relay: Relay;
  try {
    relay = await start(config, { logger, extensions: buildExtensions });
  } catch (err) {
    if (err instanceof RelayError) {
      logger.fatal({ code: err.code, err: err.cause }, err.message);
      fail(err.message, err.exitCode);
    }
    throw err;
  }
  logger.info(
    { ws_port: relay.wsPort, metrics_port: relay.metricsPort, tls: relay.tls, host: config.server.host },
    'relay listening',
  );
  signals.started(relay);
}

/**
 * First SIGINT/SIGTERM: graceful shutdown under a watchdog. Second: exit at once. Installed before the relay
 * starts, so a signal during startup is never left to Node's default (an exit with no shutdown at all).
 */
function handleSignals(config: Config, logger: Logger): { started(relay: Relay): void } {
  let relay: Relay | null = null;
  let pending: NodeJS.Signals | null = null;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    const running = relay;
    if (running === null) {
      pending = signal;
      return;
    }
    stopping = true;
    logger.info({ signal, timeout_s: config.shutdown.timeout_s }, 'shutting down');
    // Sockets still finishing their close handshake keep the event loop alive; past the deadline the
    // process exits anyway, which drops them.
    setTimeout(() => {
      logger.warn({ timeout_s: config.shutdown.timeout_s }, 'shutdown timed out, closing remaining sockets');
      running.hub.closeConnections();
      process.exit(ExitCode.shutdownTimeout);
    }, config.shutdown.timeout_s * 1000).unref();
    void running.close().then(() => {
      logger.info('shutdown complete');
      process.exitCode = ExitCode.ok;
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    started(r) {
      relay = r;
      if (pending !== null) onSignal(pending);
    },
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`websocket-relay: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(ExitCode.unexpected);
});
