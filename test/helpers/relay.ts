// Starts a real relay in the test process on 127.0.0.1 with free ports, and stops it after the test.
import { onTestFinished } from 'vitest';
import { start, type Relay, type StartDeps } from '../../src/index.js';
import { parseConfig, type Config, type ConfigInput } from '../../src/config/schema.js';
import { buildExtensions } from '../../src/extensions.js';
import { createLogger } from '../../src/logger.js';

export interface TestRelay extends Relay {
  /** ws://127.0.0.1:PORT (or wss://) */
  readonly url: string;
  /** http://127.0.0.1:PORT */
  readonly http: string;
  readonly metricsUrl: string;
}

/**
 * Deep-merges `overrides` over a loopback, port-0, silent-log base config. Overload admission on event-loop delay is
 * off in it: on a test machine running many suites at once, a thread can wait for a core longer than the limit, and
 * a relay under test must not refuse its clients for that (test/integration/capacity/ tests overload with its own).
 */
export function testConfig(overrides: ConfigInput = {}): Config {
  const base: ConfigInput = {
    server: { host: '127.0.0.1', port: 0 },
    metrics: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    limits: { max_event_loop_delay_ms: 0 },
  };
  return parseConfig(merge(base, overrides));
}

/** Starts a relay for the current test; it is closed when the test finishes. */
export async function startRelay(overrides: ConfigInput = {}, deps: Partial<StartDeps> = {}): Promise<TestRelay> {
  const config = testConfig(overrides);
  const relay = await start(config, {
    logger: deps.logger ?? createLogger(config.log.level),
    extensions: deps.extensions ?? buildExtensions,
    ...(deps.uws ? { uws: deps.uws } : {}),
  });
  onTestFinished(() => relay.close());
  const scheme = relay.tls ? 'wss' : 'ws';
  const http = `http://127.0.0.1:${relay.metricsPort ?? 0}`;
  return Object.assign(relay, {
    url: `${scheme}://127.0.0.1:${relay.wsPort}`,
    http,
    metricsUrl: `${http}${config.metrics.path}`,
  });
}

/** Deep merge of plain objects; `b` wins. */
export function merge(a: unknown, b: unknown): unknown {
  if (isPlain(a) && isPlain(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
    return out;
  }
  return b === undefined ? a : b;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
