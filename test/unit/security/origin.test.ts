import { describe, expect, it } from 'vitest';
import { OriginPolicy } from '../../../src/security/origin.js';

describe('OriginPolicy', () => {
  const policy = new OriginPolicy(['https://app.example.com', 'https://*.secure.example', '*.any.example'], false);

  it.each([
    ['https://app.example.com', true],
    ['https://APP.example.com', true],
    ['https://app.example.com:443', true],
    ['https://app.example.com:8443', false],
    ['http://app.example.com', false],
    ['https://app.example.com.evil.example', false],
    ['https://x.secure.example', true],
    ['https://a.b.secure.example:9000', true],
    ['http://x.secure.example', false],
    ['https://secure.example', false],
    ['https://evilsecure.example', false],
    ['http://x.any.example', true],
    ['https://x.any.example', true],
    ['null', false],
    ['garbage', false],
    ['', true],
  ])('%s → %s', (origin, allowed) => {
    expect(policy.allows(origin)).toBe(allowed);
  });

  it('an empty list allows every origin and is inactive', () => {
    const open = new OriginPolicy([], false);
    expect(open.active).toBe(false);
    expect(open.allows('https://evil.example')).toBe(true);
  });

  it('require_origin refuses a missing Origin even with an empty list', () => {
    const strict = new OriginPolicy([], true);
    expect(strict.active).toBe(true);
    expect(strict.allows('')).toBe(false);
    expect(strict.allows('https://anything.example')).toBe(true);
  });
});
