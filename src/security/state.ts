// What the security room keeps per socket, one object per plug-in slot, allocated at the upgrade and never per
// message: the admission's place in the connection counts and its token expiry; the limiter's rate buckets.
import type { LimitsConfig } from '../config/security.js';
import { TokenBucket, burstFor } from './bucket.js';

/**
 * reserved: admitted, counted, socket not open yet (released at the next macrotask if it never opens);
 * open: counted until close; released: no longer counted.
 */
export type CountPhase = 'reserved' | 'open' | 'released';

/** The admission's slot: where the connection counts and when its token expires. */
export class AdmissionState {
  /** The client IP, for log lines. */
  readonly ip: string;
  /** Key this connection counts under for per-IP limits. */
  readonly ipKey: string;
  phase: CountPhase = 'released';
  /** When the JWT stops being valid (ms since epoch, leeway included); null = never. */
  expiresAtMs: number | null = null;
  expiryTimer: NodeJS.Timeout | null = null;

  constructor(ip: string, ipKey: string) {
    this.ip = ip;
    this.ipKey = ipKey;
  }
}

/** The limiter's slot: the socket's message and byte buckets (null when that rate is unlimited). */
export class RateState {
  /** The client IP, for log lines. */
  readonly ip: string;
  /** The limits the buckets were made for: when a reload changes them, the limiter rebuilds the buckets. */
  limits: LimitsConfig;
  messages: TokenBucket | null = null;
  bytes: TokenBucket | null = null;

  constructor(ip: string, limits: LimitsConfig, now: number) {
    this.ip = ip;
    this.limits = limits;
    this.rebuild(limits, now);
  }

  /** New, full buckets for `limits`. */
  rebuild(limits: LimitsConfig, now: number): void {
    this.limits = limits;
    const { max_messages_per_second: mps, max_bytes_per_second: bps } = limits;
    this.messages = mps > 0 ? new TokenBucket(mps, burstFor(mps, limits.burst_messages), now) : null;
    this.bytes = bps > 0 ? new TokenBucket(bps, burstFor(bps, limits.burst_bytes), now) : null;
  }
}
