// Reads the credential material named in `security:` (tokens file, JWT key files) at startup, so a bad file is a
// config error naming its key instead of a 401 for every client later.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import type { JwtConfig, SecurityConfig } from '../config/security.js';
import { ConfigError } from '../errors.js';

/**
 * What JWTs are verified with: an HMAC secret, one public key, or a key set picked by `kid` (kept as the checked
 * JSON; the verifier builds jose's key set, so jose is loaded only when auth is jwt).
 */
export interface JwtKey {
  readonly key: Uint8Array | KeyObject | { readonly jwks: JSONWebKeySet };
  readonly algorithms: readonly string[];
}

/** Every token accepted under auth: token (inline list plus tokens_file). @throws ConfigError naming security.tokens_file */
export function loadTokens(security: SecurityConfig): string[] {
  const tokens = [...security.tokens];
  const file = security.tokens_file;
  if (file === null) return tokens;
  const text = readConfigFile(file, 'security.tokens_file');
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.length < 16 || !/^[\x21-\x7e]+$/.test(line)) {
      throw new ConfigError([`security.tokens_file: ${file}:${i + 1}: a token must be at least 16 printable ASCII characters without spaces`]);
    }
    tokens.push(line);
  });
  if (tokens.length === 0) throw new ConfigError([`security.tokens_file: ${file} holds no token`]);
  return tokens;
}

/** The verification key and accepted algorithms for auth: jwt. @throws ConfigError naming the security.jwt key at fault */
export function loadJwtKey(jwt: JwtConfig): JwtKey {
  const pick = (fallback: readonly string[]): readonly string[] => (jwt.algorithms.length > 0 ? jwt.algorithms : fallback);
  const ALGORITHMS = 'security.jwt.algorithms';
  if (jwt.secret !== null) {
    const unusable = jwt.algorithms.filter((a) => !a.startsWith('HS'));
    if (unusable.length > 0) {
      throw new ConfigError([`${ALGORITHMS}: ${unusable.join(', ')} cannot be verified with security.jwt.secret (an HMAC secret takes HS256, HS384, HS512)`]);
    }
    return { key: new TextEncoder().encode(jwt.secret), algorithms: pick(['HS256']) };
  }
  if (jwt.public_key_file !== null) {
    const name = 'security.jwt.public_key_file';
    const file = jwt.public_key_file;
    let key: KeyObject;
    try {
      key = createPublicKey(readConfigFile(file, name));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([`${name}: ${file} is not a PEM public key`], { cause: err });
    }
    const algorithm = usualAlgorithm(key);
    if (algorithm === null && jwt.algorithms.length === 0) {
      throw new ConfigError([`${name}: ${file}: no usual JWT algorithm for a ${key.asymmetricKeyType ?? 'unknown'} key; set security.jwt.algorithms`]);
    }
    const usable = algorithmsFor(key);
    const unusable = jwt.algorithms.filter((a) => !usable.includes(a));
    if (unusable.length > 0) {
      throw new ConfigError([
        `${ALGORITHMS}: ${unusable.join(', ')} cannot be verified with the ${describeKey(key)} key of ${name} (it takes ${usable.join(', ') || 'none'})`,
      ]);
    }
    return { key, algorithms: pick(algorithm === null ? [] : [algorithm]) };
  }
  if (jwt.jwks_file !== null) {
    const name = 'security.jwt.jwks_file';
    const file = jwt.jwks_file;
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(readConfigFile(file, name)) as JSONWebKeySet;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([`${name}: ${file} is not JSON`], { cause: err });
    }
    if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) throw new ConfigError([`${name}: ${file} has no "keys" array of JWKs`]);
    const usable = new Set<string>();
    jwks.keys.forEach((jwk, i) => {
      let key: KeyObject;
      try {
        key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      } catch (err) {
        throw new ConfigError([`${name}: ${file}: keys[${i}] is not a usable public key`], { cause: err });
      }
      for (const a of algorithmsFor(key)) usable.add(a);
    });
    const algorithms = pick(['RS256', 'ES256']);
    // Explicit algorithms must each be verifiable by some key; the default pair needs one of them to be.
    const unusable = algorithms.filter((a) => !usable.has(a));
    if (jwt.algorithms.length > 0 ? unusable.length > 0 : unusable.length === algorithms.length) {
      throw new ConfigError([
        `${jwt.algorithms.length > 0 ? ALGORITHMS : name}: no key of ${file} verifies ${unusable.join(', ')}${
          jwt.algorithms.length > 0 ? '' : ' (the default algorithms)'
        }; its keys take ${[...usable].join(', ') || 'none'}: set security.jwt.algorithms to match`,
      ]);
    }
    return { key: { jwks }, algorithms };
  }
  throw new ConfigError(['security.jwt: auth is jwt: set one of secret, public_key_file, jwks_file']);
}

/**
 * Reads and checks the files the active auth mode needs, keeping nothing: one problem per line, naming the key.
 * For `--check-config`, which validates without starting the relay.
 */
export function securityFileProblems(security: SecurityConfig): string[] {
  try {
    if (security.auth === 'token') loadTokens(security);
    if (security.auth === 'jwt') loadJwtKey(security.jwt);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

function readConfigFile(file: string, name: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], { cause: err });
  }
}

/** Every JWT algorithm a public key can verify. */
function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ed25519':
    case 'ed448':
      return ['EdDSA'];
    case 'ec': {
      const alg = usualAlgorithm(key);
      return alg === null ? [] : [alg];
    }
    default:
      return [];
  }
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return `${key.asymmetricKeyType ?? 'unknown'}${curve === undefined ? '' : ` ${curve}`}`;
}

function usualAlgorithm(key: KeyObject): string | null {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      return { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? null;
    default:
      return null;
  }
}
