// What the security room keeps per socket (in SocketData.ext): its place in the connection counts, its token
// expiry, its rate buckets. One object per connection, allocated at the upgrade, never per message.
import type { LimitsConfig } from '../config/security.js';
import { TokenBucket, burstFor } from './bucket.js';

/**
 * reserved: admitted, counted, socket not open yet (released at the next macrotask if it never opens);
 * open: counted until close; released: no longer counted.
 */
export type CountPhase = 'reserved' | 'open' | 'released';

export class ConnectionState {
  /** Key this connection counts under for per-IP limits. */
  readonly ipKey: string;
  phase: CountPhase = 'released';
  /** When the JWT stops being valid (ms since epoch, leeway included); null = never. */
  expiresAtMs: number | null = null;
  expiryTimer: NodeJS.Timeout | null = null;
  readonly messages: TokenBucket | null;
  readonly bytes: TokenBucket | null;

  constructor(ipKey: string, limits: LimitsConfig, now: number) {
    this.ipKey = ipKey;
    const { max_messages_per_second: mps, max_bytes_per_second: bps } = limits;
    this.messages = mps > 0 ? new TokenBucket(mps, burstFor(mps, limits.burst_messages), now) : null;
    this.bytes = bps > 0 ? new TokenBucket(bps, burstFor(bps, limits.burst_bytes), now) : null;
  }
}
