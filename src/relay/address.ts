// Peer addresses as one canonical text per address: IPv4 dotted quad (also for IPv4-mapped IPv6, which is how a
// dual-stack `::` listener sees IPv4 clients) and RFC 5952 IPv6 (lower case, no leading zeros, longest zero run
// compressed). Pure, but for AddressNames, which shares one string per address.
import { isIP, SocketAddress } from 'node:net';

/**
 * Formats a binary address as uWS's `getRemoteAddress()` returns it: 4 bytes (IPv4) or 16 bytes (IPv6).
 * @returns '' for any other length (no peer address)
 */
export function formatAddress(raw: ArrayBuffer | Uint8Array): string {
  const b = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return '';
  if (isMapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  // RFC 5952 4.2: the longest run of two or more zero groups becomes '::' (the first one on a tie).
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/** ::ffff:0:0/96 */
function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * The canonical text of an address written as text (any IPv6 spelling, IPv4-mapped or not); anything that is not
 * an IP address comes back unchanged.
 */
export function canonicalIp(text: string): string {
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) return text;
  const address = new SocketAddress({ address: text, family: 'ipv6' }).address.toLowerCase();
  if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) return address.slice(7);
  return address;
}

/** How many addresses AddressNames remembers before it starts over. */
const ADDRESS_NAMES_MAX = 1024;

/**
 * Hands out one string per address text, so that the sockets from one address (a proxy, a NAT, a load balancer, a
 * test client) share it instead of keeping a copy each. It remembers at most ADDRESS_NAMES_MAX addresses and forgets
 * them all when full: a string given out stays valid, only later sockets from that address get another copy.
 */
export class AddressNames {
  readonly #names = new Map<string, string>();

  /** The string kept for `text` (the same contents), `text` itself the first time. */
  share(text: string): string {
    const known = this.#names.get(text);
    if (known !== undefined) return known;
    if (this.#names.size >= ADDRESS_NAMES_MAX) this.#names.clear();
    this.#names.set(text, text);
    return text;
  }
}
