// The process-wide upgrade gate: the connection cap (configured, or derived from the open-file limit) and the
// overload latch. Runs on every upgrade, before any plug-in: two comparisons, shared refusal objects, no allocation.
import type { Refusal, UpgradeGate } from '../contracts.js';

export type CapReason = 'max_connections' | 'file_limit';

/** The cap on open WebSockets and which limit it comes from. */
export interface ConnectionCap {
  /** Infinity when neither limits.max_connections nor the open-file limit sets one. */
  readonly max: number;
  readonly reason: CapReason;
}

/** The smaller of the configured cap (0 = none) and the one the open-file limit allows (null = unknown). */
export function connectionCap(configured: number, fromFiles: number | null): ConnectionCap {
  if (fromFiles !== null && (configured === 0 || fromFiles < configured)) return { max: fromFiles, reason: 'file_limit' };
  return { max: configured === 0 ? Infinity : configured, reason: 'max_connections' };
}

/** Is told when the cap is reached (once until an upgrade passes again): a log line, not one per refusal. */
export type FullListener = (cap: ConnectionCap) => void;

const CAP_REFUSALS: Record<CapReason, Refusal> = {
  max_connections: { ok: false, status: '503 Service Unavailable', reason: 'max_connections', body: 'server is full' },
  file_limit: { ok: false, status: '503 Service Unavailable', reason: 'file_limit', body: 'server is full' },
};

export class CapacityGate implements UpgradeGate {
  #cap: ConnectionCap;
  #capRefusal: Refusal;
  readonly #overloadRefusal: Refusal;
  readonly #onFull: FullListener;
  #overloaded = false;
  #full = false;
  #checks = 0;

  /** @param retryAfterS what an overloaded relay asks clients to wait (seconds) */
  constructor(cap: ConnectionCap, retryAfterS: number, onFull: FullListener = () => {}) {
    this.#cap = cap;
    this.#onFull = onFull;
    this.#capRefusal = CAP_REFUSALS[cap.reason];
    this.#overloadRefusal = {
      ok: false,
      status: '503 Service Unavailable',
      reason: 'overloaded',
      body: 'server is overloaded, try again later',
      headers: { 'Retry-After': String(retryAfterS) },
    };
  }

  get cap(): ConnectionCap {
    return this.#cap;
  }

  /** A new cap (a reload of limits.max_connections); open connections above it stay open. */
  set cap(cap: ConnectionCap) {
    this.#cap = cap;
    this.#capRefusal = CAP_REFUSALS[cap.reason];
  }

  get overloaded(): boolean {
    return this.#overloaded;
  }

  /** Set by the load monitor; while true, every upgrade is refused with 503 `overloaded`. */
  set overloaded(on: boolean) {
    this.#overloaded = on;
  }

  /** Upgrade requests checked so far: each one is answered right after (upgraded or refused). */
  get checks(): number {
    return this.#checks;
  }

  /** @param open WebSockets open now */
  check(open: number): Refusal | null {
    this.#checks++;
    if (this.#overloaded) return this.#overloadRefusal;
    if (open >= this.#cap.max) {
      if (!this.#full) {
        this.#full = true;
        this.#onFull(this.#cap);
      }
      return this.#capRefusal;
    }
    this.#full = false;
    return null;
  }
}
