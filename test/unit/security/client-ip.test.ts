import { describe, expect, it } from 'vitest';
import { ClientIpResolver, ipKey } from '../../../src/security/client-ip.js';

describe('ClientIpResolver', () => {
  const resolver = new ClientIpResolver(['10.0.0.0/8', '192.168.1.1', 'fd00::/8']);

  it('uses the peer when it is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(resolver.resolve('203.0.113.9', '1.2.3.4')).toBe('203.0.113.9');
  });

  it('walks X-Forwarded-For from the right past trusted proxies', () => {
    expect(resolver.resolve('10.1.1.1', '198.51.100.7')).toBe('198.51.100.7');
    expect(resolver.resolve('10.1.1.1', '6.6.6.6, 198.51.100.7, 10.2.2.2')).toBe('198.51.100.7');
    expect(resolver.resolve('192.168.1.1', '198.51.100.7')).toBe('198.51.100.7');
    expect(resolver.resolve('fd00::1', '2001:db8::5')).toBe('2001:db8::5');
  });

  it('stops at a malformed hop, keeping the last address it could trust', () => {
    expect(resolver.resolve('10.1.1.1', 'evil, 10.3.3.3')).toBe('10.3.3.3');
    expect(resolver.resolve('10.1.1.1', 'not-an-ip')).toBe('10.1.1.1');
  });

  it('when every hop is trusted, the leftmost is the client', () => {
    expect(resolver.resolve('10.1.1.1', '10.9.9.9, 10.8.8.8')).toBe('10.9.9.9');
  });

  it('treats an IPv4-mapped peer as IPv4', () => {
    expect(resolver.resolve('::ffff:10.1.1.1', '198.51.100.7')).toBe('198.51.100.7');
    expect(resolver.resolve('::FFFF:127.0.0.1', '')).toBe('127.0.0.1');
    expect(resolver.resolve('0000:0000:0000:0000:0000:ffff:0a01:0101', '198.51.100.7')).toBe('198.51.100.7');
  });

  it('without trusted proxies never reads the header', () => {
    expect(new ClientIpResolver([]).resolve('127.0.0.1', '1.2.3.4')).toBe('127.0.0.1');
  });
});

describe('ipKey', () => {
  it('is the address for IPv4 and the /64 for IPv6', () => {
    expect(ipKey('203.0.113.9')).toBe('203.0.113.9');
    expect(ipKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:0db8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(ipKey('::1')).toBe('0:0:0:0::/64');
    expect(ipKey('2001:db8::')).toBe('2001:db8:0:0::/64');
  });
});
