// A relay started from a real YAML file, as the CLI does, that a test rewrites and reloads; its log lines are kept.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { onTestFinished } from 'vitest';
import { start } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { buildExtensions } from '../../src/extensions.js';
import { createLogger } from '../../src/logger.js';
import { merge, type TestRelay } from './relay.js';

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface ReloadableRelay extends TestRelay {
  readonly file: string;
  /** Every log line so far, parsed. */
  readonly logs: LogLine[];
  /** Replaces the config file with `overrides` over the loopback base (or with raw text). */
  write(overrides: ConfigInput | string): void;
}

/** As testConfig's base (relay.ts): no admission on event-loop delay, which a loaded test machine can trip. */
const BASE: ConfigInput = {
  server: { host: '127.0.0.1', port: 0 },
  metrics: { host: '127.0.0.1', port: 0 },
  log: { level: 'info' },
  limits: { max_event_loop_delay_ms: 0 },
};

/** Starts a relay from a YAML file holding `overrides` over a loopback, port-0 base; closed when the test ends. */
export async function startReloadable(overrides: ConfigInput = {}): Promise<ReloadableRelay> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-reload-'));
  const file = join(dir, 'relay.yaml');
  const write = (o: ConfigInput | string): void => writeFileSync(file, typeof o === 'string' ? o : dump(merge(BASE, o)));
  write(overrides);
  const logs: LogLine[] = [];
  const logger = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const load = () => loadConfig({ file, env: {} });
  const config = load();
  logger.level = config.log.level;
  const relay = await start(config, { logger, extensions: buildExtensions, load });
  onTestFinished(() => relay.close());
  const scheme = relay.tls ? 'wss' : 'ws';
  const http = `http://127.0.0.1:${relay.metricsPort ?? 0}`;
  return Object.assign(relay, { file, logs, write, url: `${scheme}://127.0.0.1:${relay.wsPort}`, http, metricsUrl: `${http}${config.metrics.path}` }) as ReloadableRelay;
}
