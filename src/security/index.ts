// Builds the admission (who may connect) and the per-message limiter (how much they may send) from `security:` and
// `limits:`. Only the controls the config turns on are built: the default relay has no admission and no limiter.
// A reload swaps their policy objects in place; connection counts, token expiries and open sockets carry over. A
// reload that turns on a control the relay was started without builds it then and plugs it in (ctx.plugIn).
import { isDeepStrictEqual } from 'node:util';
import type { Registry } from 'prom-client';
import { performance } from 'node:perf_hooks';
import type { Config } from '../config/schema.js';
import type { LimitsConfig } from '../config/security.js';
import type { ExtensionContext, Extensions, PreparedChange, ReloadStep } from '../contracts.js';
import { monotonic } from '../metrics/registry.js';
import { SecurityAdmission, type AdmissionPolicy } from './admission.js';
import { TokenBucket, burstFor } from './bucket.js';
import { ClientIpResolver } from './client-ip.js';
import { JwtVerifier } from './jwt.js';
import { loadJwtKey, loadTokens } from './keys.js';
import { RateLimiter } from './limiter.js';
import { ThrottledLog } from './log.js';
import { OriginPolicy } from './origin.js';
import { TokenSet } from './tokens.js';

export { securityFileProblems } from './keys.js';
export { ThrottledLog } from './log.js';
export type { RateLimiter } from './limiter.js';
export { BEARER_PROTOCOL_PREFIX } from './credentials.js';

type SecurityExtensions = Pick<Extensions, 'admission' | 'limiter' | 'limiterFromLimits' | 'reloadSteps'>;


/**
 * Returns the admission/limiter extensions the config turns on (none by default), and the reload step that keeps
 * their policies in line with the configuration.
 * @throws ConfigError when a tokens file or JWT key file cannot be read or used (naming the key)
 */
export function buildSecurity(ctx: ExtensionContext): SecurityExtensions {
  return new SecurityRoom(ctx).build();
}

/** A policy, and whether it checks anything at all. */
interface BuiltPolicy extends AdmissionPolicy {
  readonly active: boolean;
}

class SecurityRoom implements ReloadStep {
  readonly name = 'security';
  readonly #ctx: ExtensionContext;
  readonly #log: ThrottledLog;
  readonly #now = (): number => performance.now();
  #admission: SecurityAdmission | null = null;
  #limiter: RateLimiter | null = null;
  #policy: BuiltPolicy | null = null;

  constructor(ctx: ExtensionContext) {
    this.#ctx = ctx;
    this.#log = new ThrottledLog(ctx.logger.child({ room: 'security' }));
  }

  build(): SecurityExtensions {
    const policy = this.#buildPolicy(this.#ctx.config, null);
    this.#policy = policy;
    const out: SecurityExtensions = { reloadSteps: [this] };
    if (policy.active) {
      this.#admission = new SecurityAdmission({ ...policy, log: this.#log, now: this.#now, wallNow: Date.now });
      out.admission = this.#admission;
    }
    const limiter = buildRateLimiter(policy.limits, this.#ctx.registry, this.#log);
    if (limiter !== null) {
      this.#limiter = limiter;
      out.limiter = limiter;
      out.limiterFromLimits = true;
    }
    return out;
  }

  /** Reads the token and key files again: they may have been rotated even when the config did not change. */
  prepare(next: Config): PreparedChange {
    const policy = this.#buildPolicy(next, this.#policy);
    return {
      commit: () => {
        this.#policy = policy;
        this.#admission?.setPolicy(policy);
        this.#limiter?.setLimits(policy.limits);
        // A check or a rate the relay was started without: built now and plugged into the running hubs.
        const late: { admission?: SecurityAdmission; limiter?: RateLimiter } = {};
        if (this.#admission === null && policy.active) {
          this.#admission = new SecurityAdmission({ ...policy, log: this.#log, now: this.#now, wallNow: Date.now });
          late.admission = this.#admission;
        }
        if (this.#limiter === null) {
          const limiter = buildRateLimiter(policy.limits, this.#ctx.registry, this.#log);
          if (limiter !== null) late.limiter = this.#limiter = limiter;
        }
        if (late.admission !== undefined || late.limiter !== undefined) this.#ctx.plugIn?.(late);
      },
    };
  }

  /** @throws ConfigError from the token and key files */
  #buildPolicy(config: Config, previous: BuiltPolicy | null): BuiltPolicy {
    const { security } = config;
    // Unchanged limits keep their object: the limiter rebuilds a connection's buckets only when it changes.
    const limits = previous !== null && isDeepStrictEqual(previous.limits, config.limits) ? previous.limits : config.limits;
    const origins = new OriginPolicy(security.allowed_origins, security.require_origin);
    const rate = limits.max_upgrades_per_second;
    // An unchanged upgrade rate keeps its bucket, and what has been spent from it.
    const upgrades =
      previous !== null && previous.limits.max_upgrades_per_second === rate ? previous.upgrades : rate > 0 ? new TokenBucket(rate, burstFor(rate, 0), this.#now()) : null;
    return {
      active: admissionOn(config),
      limits,
      origins: origins.active ? origins : null,
      clientIp: new ClientIpResolver(security.trusted_proxies),
      tokens: security.auth === 'token' ? new TokenSet(loadTokens(security)) : null,
      jwt: security.auth === 'jwt' ? new JwtVerifier(loadJwtKey(security.jwt), security.jwt) : null,
      upgrades,
    };
  }
}

/**
 * The per-message rate limiter alone, or null when no rate is limited. Its buckets are per socket, so every uWS thread
 * has its own (the admission, whose counts are per process, runs once, on the main thread).
 */
export function buildRateLimiter(limits: LimitsConfig, registry: Registry, log: ThrottledLog): RateLimiter | null {
  if (!ratesOn(limits)) return null;
  const limiter = new RateLimiter({ limits, log, now: () => performance.now() });
  monotonic(
    registry,
    'relay_rate_limited_messages_total',
    'Messages dropped because their sender was over its rate limit (limits.on_rate_exceeded: drop)',
    () => limiter.dropped,
  );
  return limiter;
}

function admissionOn({ security, limits }: Config): boolean {
  return (
    security.allowed_origins.length > 0 ||
    security.require_origin ||
    security.auth !== 'none' ||
    security.trusted_proxies.length > 0 ||
    limits.max_connections > 0 ||
    limits.max_connections_per_ip > 0 ||
    limits.max_upgrades_per_second > 0
  );
}

function ratesOn(limits: LimitsConfig): boolean {
  return limits.max_messages_per_second > 0 || limits.max_bytes_per_second > 0;
}
