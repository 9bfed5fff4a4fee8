// Config sections `security:` (who may connect) and `limits:` (how much they may do). Every security control and
// per-client limit is off by default; the process-wide limits (connections, overload) have safe defaults.
import { isIP } from 'node:net';
import { z } from 'zod';

const nullablePath = z.string().min(1).nullable();

/** "https://app.example.com" (exact origin), "https://*.example.com" (any subdomain, that scheme) or "*.example.com" (any scheme). */
const originPattern = z
  .string()
  .refine(isOriginPattern, { message: 'must be an origin (https://app.example.com) or a wildcard (*.example.com, https://*.example.com)' });

/** "10.0.0.0/8", "2001:db8::/32", or a single address. */
const cidr = z.string().refine(isCidr, { message: 'must be an IP address or a CIDR (10.0.0.0/8, 2001:db8::/32)' });

const bearerToken = z.string().min(16).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** JWT signature algorithms jose verifies; "none" is deliberately absent. */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const jwt = z
  .strictObject({
    secret: z.string().min(32).nullable().default(null).describe('HMAC secret (at least 32 characters) for HS256/384/512 tokens'),
    public_key_file: nullablePath.default(null).describe('PEM public key (RSA, EC or Ed25519) that signs the tokens'),
    jwks_file: nullablePath.default(null).describe('JSON Web Key Set file; the token header `kid` picks the key'),
    algorithms: z
      .array(z.enum(JWT_ALGORITHMS))
      .default([])
      .describe('accepted `alg` values; empty = HS256 with secret, the key type’s usual one with public_key_file, RS256 and ES256 with jwks_file'),
    audience: z.string().min(1).nullable().default(null).describe('required `aud` claim; null = not checked'),
    issuer: z.string().min(1).nullable().default(null).describe('required `iss` claim; null = not checked'),
    clock_tolerance_s: z.number().min(0).max(300).default(5).describe('leeway for `exp` and `nbf`, at the handshake and for the expiry close (seconds)'),
    require_exp: z.boolean().default(true).describe('refuse tokens without an `exp` claim (they would never expire)'),
  })
  .refine((j) => [j.secret, j.public_key_file, j.jwks_file].filter((k) => k !== null).length <= 1, {
    message: 'set only one of secret, public_key_file, jwks_file',
  });

export const securitySchema = z
  .strictObject({
    allowed_origins: z
      .array(originPattern)
      .default([])
      .describe('origins whose pages may connect ("https://app.example.com", "*.example.com"); others get 403; empty = any origin'),
    require_origin: z.boolean().default(false).describe('refuse (403) requests without an Origin header, i.e. non-browser clients'),
    auth: z.enum(['none', 'token', 'jwt']).default('none').describe('credential required to connect; missing or bad gets 401'),
    tokens: z.array(bearerToken).default([]).describe('shared bearer tokens accepted when auth is token (at least 16 characters each)'),
    tokens_file: nullablePath.default(null).describe('file with one bearer token per line (blank lines and # comments ignored), added to tokens'),
    jwt: jwt.prefault({}),
    trusted_proxies: z
      .array(cidr)
      .default([])
      .describe('peers (CIDRs) whose X-Forwarded-For names the client IP; from anyone else it is ignored'),
  })
  .superRefine((s, ctx) => {
    if (s.auth === 'token' && s.tokens.length === 0 && s.tokens_file === null) {
      ctx.addIssue({ code: 'custom', path: ['tokens'], message: 'auth is token: set tokens or tokens_file' });
    }
    if (s.auth === 'jwt' && s.jwt.secret === null && s.jwt.public_key_file === null && s.jwt.jwks_file === null) {
      ctx.addIssue({ code: 'custom', path: ['jwt'], message: 'auth is jwt: set one of secret, public_key_file, jwks_file' });
    }
  });

const count = z.number().int().min(0);
const rate = z.number().min(0);

export const limitsSchema = z.strictObject({
  max_connections: count
    .default(0)
    .describe('open WebSockets this node accepts; the next upgrade gets 503; 0 = as many as the open-file limit allows (see Capacity); never more than that'),
  max_connections_per_ip: count
    .default(0)
    .describe('open WebSockets per client IP (IPv6: per /64); the next upgrade gets 429; 0 = unlimited'),
  max_messages_per_second: rate.default(0).describe('sustained messages per second one connection may send; 0 = unlimited'),
  burst_messages: count.default(0).describe('messages a connection may send at once above the sustained rate; 0 = one second’s worth'),
  max_bytes_per_second: rate.default(0).describe('sustained payload bytes per second one connection may send; 0 = unlimited'),
  burst_bytes: count.default(0).describe('payload bytes a connection may send at once; 0 = one second’s worth'),
  on_rate_exceeded: z
    .enum(['close', 'drop'])
    .default('close')
    .describe('over its budget a connection is closed with 1008, or its excess messages are dropped'),
  max_upgrades_per_second: rate.default(0).describe('upgrade requests per second this node handles (burst: one second’s worth); excess gets 503; 0 = unlimited'),
  max_event_loop_delay_ms: count
    .default(500)
    .describe('event-loop delay (worst in each 0.5 s, each 1 s at rest; twice within 2 s) above which new upgrades get 503 overloaded and /readyz 503, until it has stayed below for 5 s (ms); 0 = not watched'),
  max_memory_bytes: count
    .default(0)
    .describe('resident memory above which new upgrades get 503 overloaded and /readyz 503, until it is back under 90% of it; 0 = 80% of the memory limit (cgroup, else physical memory)'),
});

export type SecurityConfig = z.output<typeof securitySchema>;
export type LimitsConfig = z.output<typeof limitsSchema>;
export type JwtConfig = SecurityConfig['jwt'];

function isOriginPattern(value: string): boolean {
  const wildcard = /^(?:(https?):\/\/)?\*\.([a-z0-9-]+(?:\.[a-z0-9-]+)+)$/i.exec(value);
  if (wildcard) return true;
  try {
    const url = new URL(value);
    return url.origin !== 'null' && url.origin === value.toLowerCase();
  } catch {
    return false;
  }
}

function isCidr(value: string): boolean {
  const [address = '', prefix, extra] = value.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}
