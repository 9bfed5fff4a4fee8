// Secrets in the configuration, masked for anything a person or a log collector reads (--print-config, logs).
import type { Config } from './schema.js';

const MASK = '***';

/** The URL with its password masked. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = MASK;
    return parsed.toString();
  } catch {
    return '(invalid url)';
  }
}

/** A copy of `config` with every secret masked: TLS passphrase, shared tokens, JWT secret, Redis password. */
export function redactedConfig(config: Config): Config {
  const copy = structuredClone(config) as Config;
  if (copy.server.tls.passphrase !== null) copy.server.tls.passphrase = MASK;
  copy.security.tokens = copy.security.tokens.map(() => MASK);
  if (copy.security.jwt.secret !== null) copy.security.jwt.secret = MASK;
  copy.cluster.redis.url = redactedUrl(copy.cluster.redis.url);
  return copy;
}
