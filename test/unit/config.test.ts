// The schema is the single source of truth: defaults, bounds, layering and the docs that mirror it.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envOverrides, loadConfig, parseYaml, type LoadOptions } from '../../src/config/load.js';
import { configReference, configTable } from '../../src/config/reference.js';
import { defaultConfig, parseConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const shippedYaml = readFileSync(new URL('../../config/relay.yaml', import.meta.url), 'utf8');

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('schema', () => {
  it('parse({}) fills every default', () => {
    const config = parseConfig({});
    expect(config.server).toEqual({ host: '0.0.0.0', port: 8443, tls: { cert_file: null, key_file: null, passphrase: null, watch: true }, demo_page: false, workers: 'auto' });
    expect(config.relay).toEqual({
      echo: true,
      rooms: false,
      max_payload_bytes: 65536,
      idle_timeout_s: 120,
      max_backpressure_bytes: 1048576,
      soft_backpressure_bytes: null,
      max_stall_s: 10,
      read_timeout_s: 1,
      max_total_backpressure_bytes: 0,
    });
    expect(config.metrics).toEqual({ enabled: true, host: '0.0.0.0', port: 9090, path: '/metrics', reload_endpoint: false });
    expect(config.shutdown).toEqual({ timeout_s: 10, drain_delay_s: 0, drain_spread_s: 0 });
    expect(config.log).toEqual({ level: 'info' });
    // every leaf key of the schema has a default: an empty document gives a complete config
    for (const { key } of configReference()) {
      const value = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], config);
      expect(value, key).not.toBeUndefined();
    }
  });

  it('inner defaults apply when a section is given partly', () => {
    expect(parseConfig({ server: { port: 1 } }).server).toMatchObject({ host: '0.0.0.0', port: 1, tls: { cert_file: null } });
  });

  it('bounds idle_timeout_s to what uWS accepts', () => {
    for (const ok of [0, 8, 960]) expect(parseConfig({ relay: { idle_timeout_s: ok } }).relay.idle_timeout_s).toBe(ok);
    for (const bad of [1, 7, 961, 8.5]) expect(() => parseConfig({ relay: { idle_timeout_s: bad } })).toThrow();
  });

  it('drain_delay_s must leave time inside timeout_s', () => {
    expect(() => parseConfig({ shutdown: { timeout_s: 5, drain_delay_s: 5 } })).toThrow(/drain_delay_s/);
  });

  it('drain_spread_s must fit inside timeout_s with the drain delay and the close handshake', () => {
    expect(parseConfig({ shutdown: { timeout_s: 10, drain_delay_s: 2, drain_spread_s: 7 } }).shutdown.drain_spread_s).toBe(7);
    expect(problems(() => loadConfig({ file: null, set: ['shutdown.drain_spread_s=8', 'shutdown.drain_delay_s=2'] }))).toEqual([
      'shutdown.drain_spread_s: drain_delay_s + drain_spread_s + 1 (the close handshake) must fit inside timeout_s (from --set shutdown.drain_spread_s)',
    ]);
  });

  it('metrics.path may not shadow the probes', () => {
    for (const bad of ['/healthz', '/readyz', '/metrics?x=1'])
      expect(problems(() => loadConfig({ file: null, set: [`metrics.path=${bad}`] }))[0]).toMatch(/^metrics\.path: /);
    expect(parseConfig({ metrics: { path: '/prom' } }).metrics.path).toBe('/prom');
  });

  it('a backplane whose close cannot fit inside shutdown.timeout_s is refused, naming the key', () => {
    const cluster = { backplane: 'redis', redis: { connect_timeout_s: 5 } };
    expect(problems(() => loadConfig({ file: null, set: [`cluster=${JSON.stringify(cluster)}`, 'shutdown.timeout_s=5'] }))[0]).toMatch(
      /^cluster\.redis\.connect_timeout_s: .*shutdown\.timeout_s/,
    );
    expect(() => parseConfig({ cluster, shutdown: { timeout_s: 10, drain_delay_s: 5 } })).toThrow(/connect_timeout_s/);
    expect(parseConfig({ cluster, shutdown: { timeout_s: 10, drain_delay_s: 4 } }).cluster.redis.connect_timeout_s).toBe(5);
    // without a backplane the key bounds nothing
    expect(parseConfig({ cluster: { redis: { connect_timeout_s: 60 } }, shutdown: { timeout_s: 5 } }).shutdown.timeout_s).toBe(5);
  });

  it('config/relay.yaml is exactly the defaults, except the demo page it turns on for npm start', () => {
    const defaults = defaultConfig();
    expect(defaults.server.demo_page).toBe(false);
    expect(parseConfig(parseYaml(shippedYaml, 'relay.yaml'))).toEqual({ ...defaults, server: { ...defaults.server, demo_page: true } });
  });
});

describe('loading', () => {
  it('layers defaults < file < env < --set, and freezes the result', () => {
    const config = loadConfig({
      file: null,
      env: { RELAY_SERVER__PORT: '9000', RELAY_RELAY__ECHO: 'false', RELAY_METRICS__ENABLED: 'false' },
      set: ['server.port=9001'],
    });
    expect(config.server.port).toBe(9001);
    expect(config.relay.echo).toBe(false);
    expect(config.metrics.enabled).toBe(false);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow();
  });

  it('reads env values as YAML scalars and ignores RELAY_* names without a section separator', () => {
    expect(envOverrides({ RELAY_HOME: '/x', RELAY_SERVER__HOST: '127.0.0.1', RELAY_LOG__LEVEL: 'debug', OTHER__X: '1' })).toEqual([
      [['log', 'level'], 'debug', 'RELAY_LOG__LEVEL'],
      [['server', 'host'], '127.0.0.1', 'RELAY_SERVER__HOST'],
    ]);
  });

  it('keeps values of text-only keys as written, and reads quoted ones as YAML', () => {
    const config = loadConfig({
      file: null,
      env: { RELAY_SERVER__TLS__PASSPHRASE: '123456', RELAY_METRICS__PATH: '/m #1' },
      set: ['server.host="::1"'],
    });
    expect(config.server.tls.passphrase).toBe('123456');
    expect(config.metrics.path).toBe('/m #1');
    expect(config.server.host).toBe('::1');
    expect(loadConfig({ file: null, env: { RELAY_SERVER__TLS__PASSPHRASE: 'null' } }).server.tls.passphrase).toBeNull();
  });

  it('names the variable or flag a bad value came from', () => {
    expect(problems(() => loadConfig({ file: null, env: { RELAY_SERVER__PORT: '70000' } }))).toEqual([
      'server.port: must be <= 65535 (from RELAY_SERVER__PORT)',
    ]);
    expect(problems(() => loadConfig({ file: null, env: { RELAY_SERVER__PROT: '1' } }))).toEqual([
      'server.prot: unknown key (from RELAY_SERVER__PROT)',
    ]);
    expect(problems(() => loadConfig({ file: null, set: ['relay.rooms=maybe'] }))).toEqual([
      'relay.rooms: must be a boolean (from --set relay.rooms)',
    ]);
    expect(problems(() => loadConfig({ file: null, set: ['nonsense'] }))).toEqual(['--set nonsense: expected key.path=value']);
    expect(problems(() => loadConfig({ file: null, env: { RELAY_NOPE__X: '1' } }))).toEqual(['nope: unknown key (from RELAY_NOPE__X)']);
    expect(problems(() => loadConfig({ file: null, env: { RELAY_SERVER__HOST: '' } }))).toEqual([
      'server.host: must not be empty (from RELAY_SERVER__HOST)',
    ]);
  });

  it('rejects prototype keys from every source, before they reach Object.prototype', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'relay-config-')), 'proto.yaml');
    writeFileSync(file, 'server:\n  __proto__: { polluted: 1 }\n');
    const cases: [LoadOptions, RegExp][] = [
      [{ file: null, set: ['__proto__.polluted=1'] }, /^__proto__\.polluted: "__proto__" is not a configuration key \(from --set __proto__\.polluted\)/],
      [{ file: null, set: ['server.constructor.prototype.polluted=1'] }, /"constructor" is not a configuration key/],
      [{ file: null, set: ['server={__proto__: {polluted: 1}}'] }, /^server\.__proto__: .*from --set server/],
      [{ file: null, env: { RELAY___PROTO____POLLUTED: '1', RELAY_PROTOTYPE__X: '1' } }, /"prototype" is not a configuration key \(from RELAY_PROTOTYPE__X\)/],
      [{ file }, /^server\.__proto__: .*proto\.yaml/],
    ];
    for (const [options, message] of cases) expect(problems(() => loadConfig(options))[0]).toMatch(message);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('treats an empty or comment-only file as all defaults, and rejects a non-mapping', () => {
    expect(parseYaml('', 'f')).toEqual({});
    expect(parseYaml('# nothing here\n', 'f')).toEqual({});
    expect(problems(() => parseYaml('- a\n- b\n', 'f.yaml'))).toEqual([
      'f.yaml: the top level must be a mapping of sections (server, relay, ...)',
    ]);
    expect(problems(() => parseYaml('a: 1\n---\nb: 2\n', 'f.yaml'))[0]).toContain('expected one YAML document');
  });

  it('points at the line and column of a YAML syntax error', () => {
    expect(problems(() => parseYaml('server:\n  port: [1,\n  host: }\n', 'bad.yaml'))[0]).toMatch(/^bad\.yaml:3:\d+: YAML syntax error/);
  });
});

describe('docs agree with the schema', () => {
  it('the README embeds the generated config table', () => {
    expect(readme).toContain(configTable());
  });

  it('config/relay.yaml spells out every key, and nothing else', () => {
    const leaves = (node: unknown, prefix = ''): string[] =>
      typeof node === 'object' && node !== null && !Array.isArray(node)
        ? Object.entries(node).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k))
        : [prefix];
    expect(leaves(parseYaml(shippedYaml, 'relay.yaml')).sort()).toEqual(configReference().map((k) => k.key).sort());
  });
});
