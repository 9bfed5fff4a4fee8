import { describe, expect, it } from 'vitest';
import { TokenSet } from '../../../src/security/tokens.js';

describe('TokenSet', () => {
  const set = new TokenSet(['first-token-0123456789', 'second-token-0123456789']);

  it('matches exactly, any entry', () => {
    expect(set.has('first-token-0123456789')).toBe(true);
    expect(set.has('second-token-0123456789')).toBe(true);
  });

  it('refuses prefixes, extensions, case changes and the empty string', () => {
    for (const bad of ['first-token-012345678', 'first-token-01234567890', 'FIRST-TOKEN-0123456789', '']) expect(set.has(bad)).toBe(false);
  });

  it('an empty set matches nothing', () => {
    expect(new TokenSet([]).has('')).toBe(false);
  });
});
