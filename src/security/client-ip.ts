// Which IP a connection counts against: the TCP peer, or X-Forwarded-For when the peer is a trusted proxy. Pure.
import { BlockList, isIP } from 'node:net';
import { canonicalIp } from '../relay/address.js';

/** Resolves the client IP of an upgrade request. */
export class ClientIpResolver {
  readonly #trusted: BlockList | null;

  /** @param trustedProxies CIDRs or addresses (validated by the config schema); empty = X-Forwarded-For is never read */
  constructor(trustedProxies: readonly string[]) {
    if (trustedProxies.length === 0) {
      this.#trusted = null;
      return;
    }
    const list = new BlockList();
    for (const entry of trustedProxies) {
      const [address = '', prefix] = entry.split('/');
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) list.addAddress(address, type);
      else list.addSubnet(address, Number(prefix), type);
    }
    this.#trusted = list;
  }

  /**
   * Walks X-Forwarded-For from the right (the hop nearest to us), skipping trusted proxies; the first address not
   * trusted is the client. A malformed entry stops the walk at the proxy that forwarded it, so nothing a client
   * writes into the header is believed beyond the first proxy we trust.
   * @param peerIp the TCP peer
   * @param forwardedFor the X-Forwarded-For header, '' when absent
   */
  resolve(peerIp: string, forwardedFor: string): string {
    let client = canonicalIp(peerIp);
    if (this.#trusted === null || forwardedFor === '' || !this.#isTrusted(client)) return client;
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = canonicalIp((hops[i] ?? '').trim());
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!this.#isTrusted(hop)) return hop;
    }
    return client;
  }

  #isTrusted(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && (this.#trusted?.check(ip, family === 6 ? 'ipv6' : 'ipv4') ?? false);
  }
}

/**
 * The key per-IP limits count under: the address itself for IPv4, its /64 network for IPv6 (one subscriber
 * usually holds a whole /64, so counting single IPv6 addresses would limit nobody).
 */
export function ipKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return `${expandIpv6(ip).slice(0, 4).join(':')}::/64`;
}

function expandIpv6(ip: string): string[] {
  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail ("::1.2.3.4") sits in the last 32 bits, which a /64 key never reads.
  const missing = 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right];
  return groups.map((g) => (g.includes('.') ? g : Number.parseInt(g, 16).toString(16)));
}
