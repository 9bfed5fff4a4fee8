import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { parseConfig } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/errors.js';

describe('security and limits config', () => {
  it('parsing {} gives every security control and per-client limit off, and the process-wide limits their defaults', () => {
    const { security, limits } = parseConfig({});
    expect(security).toEqual({
      allowed_origins: [],
      require_origin: false,
      auth: 'none',
      tokens: [],
      tokens_file: null,
      jwt: { secret: null, public_key_file: null, jwks_file: null, algorithms: [], audience: null, issuer: null, clock_tolerance_s: 5, require_exp: true },
      trusted_proxies: [],
    });
    expect(limits).toEqual({
      max_connections: 0,
      max_connections_per_ip: 0,
      max_messages_per_second: 0,
      burst_messages: 0,
      max_bytes_per_second: 0,
      burst_bytes: 0,
      on_rate_exceeded: 'close',
      max_upgrades_per_second: 0,
      max_event_loop_delay_ms: 500,
      max_memory_bytes: 0,
    });
  });

  it('takes lists and numbers from the environment', () => {
    const config = loadConfig({
      file: null,
      env: {
        RELAY_SECURITY__ALLOWED_ORIGINS: '[https://a.example, "*.b.example"]',
        RELAY_SECURITY__TRUSTED_PROXIES: '[10.0.0.0/8]',
        RELAY_LIMITS__MAX_CONNECTIONS: '100',
        RELAY_LIMITS__ON_RATE_EXCEEDED: 'drop',
      },
    });
    expect(config.security.allowed_origins).toEqual(['https://a.example', '*.b.example']);
    expect(config.security.trusted_proxies).toEqual(['10.0.0.0/8']);
    expect(config.limits.max_connections).toBe(100);
    expect(config.limits.on_rate_exceeded).toBe('drop');
  });

  it.each([
    [{ security: { allowed_origins: ['https://a.example/path'] } }, 'security.allowed_origins.0'],
    [{ security: { allowed_origins: ['*'] } }, 'security.allowed_origins.0'],
    [{ security: { trusted_proxies: ['10.0.0.0/33'] } }, 'security.trusted_proxies.0'],
    [{ security: { trusted_proxies: ['example.com'] } }, 'security.trusted_proxies.0'],
    [{ security: { auth: 'token' } }, 'security.tokens: auth is token'],
    [{ security: { tokens: ['short'] } }, 'security.tokens.0'],
    [{ security: { auth: 'jwt' } }, 'security.jwt: auth is jwt'],
    [{ security: { jwt: { secret: 'x'.repeat(32), jwks_file: '/k.json' } } }, 'security.jwt: set only one'],
    [{ security: { jwt: { secret: 'too short' } } }, 'security.jwt.secret'],
    [{ security: { jwt: { algorithms: ['none'] } } }, 'security.jwt.algorithms.0'],
    [{ limits: { max_connections: -1 } }, 'limits.max_connections'],
    [{ limits: { on_rate_exceeded: 'ignore' } }, 'limits.on_rate_exceeded'],
    [{ limits: { max_messages_per_sec: 5 } }, 'limits.max_messages_per_sec: unknown key'],
  ])('rejects %j naming %s', (input, key) => {
    const set = flatten(input);
    let error: unknown;
    try {
      loadConfig({ file: null, set });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(key);
  });
});

/** {a: {b: 1}} → ['a.b=1'] (values as YAML flow, which --set decodes). */
function flatten(input: object, prefix = ''): string[] {
  return Object.entries(input).flatMap(([k, v]) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? flatten(v as object, `${prefix}${k}.`) : [`${prefix}${k}=${JSON.stringify(v)}`],
  );
}
