// JWT verification (jose): signature, alg allow-list, exp/nbf with leeway, optional aud/iss. jose is imported when
// the first verifier is built, so a relay without auth: jwt never loads it (about 10 MB of RSS).
import type * as JoseModule from 'jose';
import type { JWTVerifyGetKey, JWTVerifyOptions, KeyObject } from 'jose';
import type { JwtConfig } from '../config/security.js';
import type { JwtKey } from './keys.js';

export type JwtVerdict =
  | { readonly ok: true; /** when the token stops being valid (exp + leeway, ms since epoch); null without exp */ readonly expiresAtMs: number | null }
  | { readonly ok: false; /** short, loggable: never the token or its claims */ readonly why: string };

/** Verifies bearer JWTs against one configured key. Never throws: every failure is a `why`. */
type Jose = typeof JoseModule;
type VerifyKey = Uint8Array | KeyObject | JWTVerifyGetKey;

export class JwtVerifier {
  /** jose and the key in its form, from the constructor on; never rejects (a failed import fails each verify) */
  readonly #ready: Promise<{ jose: Jose; key: VerifyKey } | { failed: unknown }>;
  readonly #options: JWTVerifyOptions;
  readonly #toleranceMs: number;

  constructor(key: JwtKey, jwt: JwtConfig) {
    const material = key.key;
    this.#ready = import('jose').then(
      (jose) => ({ jose, key: 'jwks' in material ? jose.createLocalJWKSet(material.jwks) : material }),
      (failed: unknown) => ({ failed }),
    );
    this.#toleranceMs = jwt.clock_tolerance_s * 1000;
    this.#options = {
      algorithms: [...key.algorithms],
      clockTolerance: jwt.clock_tolerance_s,
      ...(jwt.require_exp ? { requiredClaims: ['exp'] } : {}),
      ...(jwt.audience === null ? {} : { audience: jwt.audience }),
      ...(jwt.issuer === null ? {} : { issuer: jwt.issuer }),
    };
  }

  async verify(token: string): Promise<JwtVerdict> {
    const ready = await this.#ready;
    if ('failed' in ready) return { ok: false, why: 'jwt verifier unavailable' };
    try {
      // The overloads for a key and for a key-set function differ only in types; jose takes either.
      const { payload } = await ready.jose.jwtVerify(token, ready.key as Parameters<Jose['jwtVerify']>[1], this.#options);
      return { ok: true, expiresAtMs: typeof payload.exp === 'number' ? payload.exp * 1000 + this.#toleranceMs : null };
    } catch (err) {
      return { ok: false, why: describe(err) };
    }
  }
}

/** jose's stable error codes mapped to a few words; claims and token text never reach the log. */
function describe(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = err as { claim?: unknown; reason?: unknown };
      return reason === 'missing' ? `no ${String(claim)} claim` : `claim check failed (${String(claim)})`;
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'algorithm not allowed';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'no matching key';
    default:
      return 'malformed token';
  }
}
