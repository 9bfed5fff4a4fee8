import { describe, expect, it } from 'vitest';
import type { ExtensionContext } from '../../../src/contracts.js';
import { parseConfig, type ConfigInput } from '../../../src/config/schema.js';
import { Lifecycle } from '../../../src/lifecycle.js';
import { createLogger } from '../../../src/logger.js';
import { Registry } from 'prom-client';
import { Readiness } from '../../../src/metrics/server.js';
import { buildSecurity } from '../../../src/security/index.js';

function context(input: ConfigInput): ExtensionContext {
  const logger = createLogger('silent');
  return {
    config: parseConfig(input),
    logger,
    registry: new Registry(),
    readiness: new Readiness(),
    lifecycle: new Lifecycle(logger),
  };
}

describe('buildSecurity', () => {
  it('builds nothing for the default config: the relay stays transparent', () => {
    const built = buildSecurity(context({}));
    expect(built.admission).toBeUndefined();
    expect(built.limiter).toBeUndefined();
    // Only its reload step, which installs an admission or limiter if a reload turns one on.
    expect(built.reloadSteps).toHaveLength(1);
  });

  it.each<[string, ConfigInput]>([
    ['allowed_origins', { security: { allowed_origins: ['https://a.example'] } }],
    ['require_origin', { security: { require_origin: true } }],
    ['auth token', { security: { auth: 'token', tokens: ['0123456789abcdef'] } }],
    ['auth jwt', { security: { auth: 'jwt', jwt: { secret: 'x'.repeat(32) } } }],
    ['trusted_proxies', { security: { trusted_proxies: ['10.0.0.0/8'] } }],
    ['max_connections', { limits: { max_connections: 1 } }],
    ['max_connections_per_ip', { limits: { max_connections_per_ip: 1 } }],
    ['max_upgrades_per_second', { limits: { max_upgrades_per_second: 1 } }],
  ])('%s builds an admission and no limiter', (_name, input) => {
    const built = buildSecurity(context(input));
    expect(built.admission).toBeDefined();
    expect(built.limiter).toBeUndefined();
  });

  it.each<[string, ConfigInput]>([
    ['messages', { limits: { max_messages_per_second: 1 } }],
    ['bytes', { limits: { max_bytes_per_second: 1 } }],
  ])('a %s rate builds a limiter and no admission, and registers the dropped counter', async (_name, input) => {
    const ctx = context(input);
    const built = buildSecurity(ctx);
    expect(built.admission).toBeUndefined();
    expect(built.limiter).toBeDefined();
    expect(await ctx.registry.metrics()).toContain('relay_rate_limited_messages_total 0');
  });
});
