import { describe, expect, it } from 'vitest';
import { canonicalIp, formatAddress } from '../../src/relay/address.js';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/[^0-9a-f]/gi, ''), 'hex'));

describe('formatAddress', () => {
  it.each([
    ['7f000001', '127.0.0.1'],
    ['00000000000000000000ffff7f000002', '127.0.0.2'],
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['fe800000000000000000000000000000', 'fe80::'],
    ['20010db8000000000000000100000000', '2001:db8::1:0:0'],
  ])('%s → %s', (hex, text) => {
    expect(formatAddress(bytes(hex))).toBe(text);
    expect(formatAddress(bytes(hex).buffer as ArrayBuffer)).toBe(text);
  });

  it('gives "" for a buffer that is no address', () => {
    expect(formatAddress(new ArrayBuffer(0))).toBe('');
  });
});

describe('canonicalIp', () => {
  it.each([
    ['0000:0000:0000:0000:0000:ffff:7f00:0002', '127.0.0.2'],
    ['::FFFF:10.1.1.1', '10.1.1.1'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['198.51.100.7', '198.51.100.7'],
    ['not-an-ip', 'not-an-ip'],
  ])('%s → %s', (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical);
  });
});
