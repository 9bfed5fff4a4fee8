// Builds the admission (who may connect) and the per-message limiter (how much they may send) from `security:` and
// `limits:`. Only the controls the config turns on are built: the default relay has no admission and no limiter.
import { performance } from 'node:perf_hooks';
import type { ExtensionContext, Extensions } from '../contracts.js';
import { monotonic } from '../metrics/registry.js';
import { SecurityAdmission } from './admission.js';
import { TokenBucket, burstFor } from './bucket.js';
import { ClientIpResolver } from './client-ip.js';
import { JwtVerifier } from './jwt.js';
import { loadJwtKey, loadTokens } from './keys.js';
import { RateLimiter } from './limiter.js';
import { ThrottledLog } from './log.js';
import { OriginPolicy } from './origin.js';
import { TokenSet } from './tokens.js';

export { securityFileProblems } from './keys.js';
export { BEARER_PROTOCOL_PREFIX } from './credentials.js';

/**
 * Returns the admission/limiter extensions the config turns on; none by default.
 * @throws ConfigError when a tokens file or JWT key file cannot be read or used (naming the key)
 */
export function buildSecurity(ctx: ExtensionContext): Pick<Extensions, 'admission' | 'limiter'> {
  const { security, limits } = ctx.config;
  const log = new ThrottledLog(ctx.logger.child({ room: 'security' }));
  const now = (): number => performance.now();
  const out: Pick<Extensions, 'admission' | 'limiter'> = {};

  const origins = new OriginPolicy(security.allowed_origins, security.require_origin);
  const admissionOn =
    origins.active ||
    security.auth !== 'none' ||
    security.trusted_proxies.length > 0 ||
    limits.max_connections > 0 ||
    limits.max_connections_per_ip > 0 ||
    limits.max_upgrades_per_second > 0;
  if (admissionOn) {
    const rate = limits.max_upgrades_per_second;
    out.admission = new SecurityAdmission({
      limits,
      origins: origins.active ? origins : null,
      clientIp: new ClientIpResolver(security.trusted_proxies),
      tokens: security.auth === 'token' ? new TokenSet(loadTokens(security)) : null,
      jwt: security.auth === 'jwt' ? new JwtVerifier(loadJwtKey(security.jwt), security.jwt) : null,
      upgrades: rate > 0 ? new TokenBucket(rate, burstFor(rate, 0), now()) : null,
      log,
      now,
      wallNow: Date.now,
    });
  }

  if (limits.max_messages_per_second > 0 || limits.max_bytes_per_second > 0) {
    const limiter = new RateLimiter({ limits, log, now });
    monotonic(
      ctx.registry,
      'relay_rate_limited_messages_total',
      'Messages dropped because their sender was over its rate limit (limits.on_rate_exceeded: drop)',
      () => limiter.dropped,
    );
    out.limiter = limiter;
  }
  return out;
}
