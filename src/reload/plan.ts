// What a reload may change on a running relay: the keys that differ between two configs, split into those applied
// live and those that need a restart (kept at their running value). Pure.
import { deepFreeze } from '../config/freeze.js';
import type { Config } from '../config/schema.js';

/**
 * Keys (or whole sections) applied to a running relay. Every other key that changes (listen addresses, ports, the
 * metrics server, the cluster backend, rooms, uWS socket options, keys added later) needs a restart.
 */
export const LIVE_KEYS: readonly string[] = [
  'server.tls.cert_file',
  'server.tls.key_file',
  'server.tls.passphrase',
  'server.tls.watch',
  'relay.echo',
  'relay.max_payload_bytes',
  'relay.soft_backpressure_bytes',
  'relay.max_stall_s',
  'relay.read_timeout_s',
  'relay.max_total_backpressure_bytes',
  'log.level',
  'shutdown',
  'security',
  'limits',
];

export interface ReloadPlan {
  /** Every dotted key whose value differs. */
  readonly changed: readonly string[];
  /** Changed keys that need a restart; the running value stays. */
  readonly restartOnly: readonly string[];
  /** The config to run with: `next`, except restart-only keys keep their running value. Frozen. */
  readonly config: Config;
}

/**
 * Compares the running config with a freshly loaded one.
 * @param alsoRestartOnly keys or sections the running rooms cannot apply this time (see ReloadStep.restartOnly)
 * @param maxPayloadCeiling the largest relay.max_payload_bytes the running uWS app can enforce (its value at start):
 *   uWS fixes its own frame limit when the app is built, so only lowering (or raising back up to it) is live.
 */
export function planReload(running: Config, next: Config, maxPayloadCeiling: number, alsoRestartOnly: readonly string[] = []): ReloadPlan {
  const changed = diffKeys(running, next);
  const restartOnly = changed.filter((key) => !isLive(key) || within(key, alsoRestartOnly));
  // TLS on <-> off means a different kind of uWS app: only a restart can do it.
  const tlsSwitch = (running.server.tls.cert_file === null) !== (next.server.tls.cert_file === null);
  if (tlsSwitch) for (const key of ['server.tls.cert_file', 'server.tls.key_file']) if (changed.includes(key)) restartOnly.push(key);
  if (next.relay.max_payload_bytes > maxPayloadCeiling && changed.includes('relay.max_payload_bytes')) restartOnly.push('relay.max_payload_bytes');

  const config = structuredClone(next) as Config;
  for (const key of restartOnly) setKey(config, key, getKey(running, key));
  return { changed, restartOnly: [...new Set(restartOnly)].sort(), config: deepFreeze(config) };
}

function isLive(key: string): boolean {
  return within(key, LIVE_KEYS);
}

function within(key: string, sections: readonly string[]): boolean {
  return sections.some((s) => key === s || key.startsWith(`${s}.`));
}

/** Dotted paths of leaves (arrays count as one value) that differ. */
export function diffKeys(a: unknown, b: unknown, prefix = ''): string[] {
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => diffKeys(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

function getKey(tree: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((node, k) => (isRecord(node) ? node[k] : undefined), tree);
}

function setKey(tree: Record<string, unknown>, key: string, value: unknown): void {
  const path = key.split('.');
  let node = tree;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string, unknown>;
  node[path[path.length - 1] as string] = structuredClone(value);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
