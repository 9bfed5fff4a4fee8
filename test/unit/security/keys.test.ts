import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/schema.js';
import { loadJwtKey, loadTokens, securityFileProblems } from '../../../src/security/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const security = (input: object) => parseConfig({ security: input }).security;

describe('loadTokens', () => {
  it('merges the inline list with the file, skipping blanks and comments', () => {
    const tokens = file('tokens', '# ops\n\nfile-token-0123456789\r\n  spaced-token-0123456789  \n');
    expect(loadTokens(security({ auth: 'token', tokens: ['inline-token-0123456789'], tokens_file: tokens }))).toEqual([
      'inline-token-0123456789',
      'file-token-0123456789',
      'spaced-token-0123456789',
    ]);
  });

  it('names the file and line of a weak token', () => {
    const tokens = file('weak', 'good-token-0123456789\nshort\n');
    expect(securityFileProblems(security({ auth: 'token', tokens_file: tokens }))).toEqual([
      `security.tokens_file: ${tokens}:2: a token must be at least 16 printable ASCII characters without spaces`,
    ]);
  });

  it('refuses a file with no token', () => {
    expect(securityFileProblems(security({ auth: 'token', tokens_file: file('empty', '# none\n') }))[0]).toContain('holds no token');
  });
});

describe('loadJwtKey', () => {
  it('picks the usual algorithm for the key type unless algorithms is set', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(loadJwtKey(security({ jwt: { public_key_file: file('ec.pem', ec) } }).jwt).algorithms).toEqual(['ES384']);
    expect(loadJwtKey(security({ jwt: { public_key_file: file('rsa.pem', rsa) } }).jwt).algorithms).toEqual(['RS256']);
    expect(loadJwtKey(security({ jwt: { public_key_file: file('ed.pem', ed) } }).jwt).algorithms).toEqual(['EdDSA']);
    expect(loadJwtKey(security({ jwt: { public_key_file: file('rsa2.pem', rsa), algorithms: ['PS256'] } }).jwt).algorithms).toEqual(['PS256']);
    expect(loadJwtKey(security({ jwt: { secret: 'x'.repeat(32) } }).jwt).algorithms).toEqual(['HS256']);
  });

  it('refuses at load algorithms the key cannot verify (every client would get 401), naming the key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const ed = generateKeyPairSync('ed25519').publicKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const pem = (k: typeof ec): string => k.export({ type: 'spki', format: 'pem' }).toString();
    const jwks = (...keys: (typeof ec)[]): string => JSON.stringify({ keys: keys.map((k) => k.export({ format: 'jwk' })) });
    const problem = (jwt: object): string => securityFileProblems(security({ auth: 'jwt', jwt }))[0] ?? '';

    expect(problem({ secret: 'x'.repeat(32), algorithms: ['RS256'] })).toMatch(/^security\.jwt\.algorithms: RS256 cannot be verified with security\.jwt\.secret/);
    expect(problem({ public_key_file: file('ec256.pem', pem(ec)), algorithms: ['RS256'] })).toMatch(
      /^security\.jwt\.algorithms: RS256 cannot be verified with the ec prime256v1 key .* \(it takes ES256\)/,
    );
    expect(problem({ jwks_file: file('ed.jwks', jwks(ed)) })).toMatch(/^security\.jwt\.jwks_file: no key of .* verifies RS256, ES256 \(the default algorithms\); its keys take EdDSA/);
    expect(problem({ jwks_file: file('mixed.jwks', jwks(rsa, ec)), algorithms: ['EdDSA'] })).toMatch(/^security\.jwt\.algorithms: no key of .* verifies EdDSA/);
    // what does match is accepted
    expect(problem({ jwks_file: file('ed2.jwks', jwks(ed)), algorithms: ['EdDSA'] })).toBe('');
    expect(problem({ jwks_file: file('rsa.jwks', jwks(rsa)) })).toBe('');
    expect(problem({ public_key_file: file('rsa3.pem', pem(rsa)), algorithms: ['RS512', 'PS256'] })).toBe('');
    expect(problem({ secret: 'x'.repeat(32), algorithms: ['HS512'] })).toBe('');
  });

  it('reports unusable files naming the key, and nothing for auth: none', () => {
    expect(securityFileProblems(security({ auth: 'jwt', jwt: { public_key_file: file('x.pem', 'nope') } }))).toEqual([
      `security.jwt.public_key_file: ${join(dir, 'x.pem')} is not a PEM public key`,
    ]);
    expect(securityFileProblems(security({ auth: 'jwt', jwt: { jwks_file: file('bad.json', '{"keys":[{"kty":"oct","k":"AA"}]}') } }))[0]).toContain(
      'keys[0] is not a usable public key',
    );
    expect(securityFileProblems(security({ jwt: { jwks_file: '/nonexistent' } }))).toEqual([]);
  });
});
