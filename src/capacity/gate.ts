// The process-wide upgrade gate: the connection cap (configured, or derived from the open-file limit) and the
// overload latch, kept in shared memory so every uWS thread of the process sees the same count. Runs on every
// upgrade, before any plug-in: a few atomic reads and adds, shared refusal objects, no allocation.
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

/** Slots of the shared state (Int32 each). */
const TOTAL = 0;
const CHECKS = 1;
const OVERLOADED = 2;
const CAP = 3;
const CAP_REASON = 4;
const DRAINING = 5;
const FIRST_THREAD = 8;
/** CAP's value for "no cap". */
const NO_CAP = -1;
const REASONS: readonly CapReason[] = ['max_connections', 'file_limit'];

/**
 * The gate's state in shared memory, so that every uWS thread of the process sees one connection count, one cap and
 * one overload latch. Thread `thread` counts its own sockets in its slot as well (relay_worker_connections).
 */
export class GateState {
  readonly buffer: SharedArrayBuffer;
  readonly thread: number;
  readonly #cells: Int32Array;

  /** @param buffer from GateState.allocate (null: a new one for `threads` threads) */
  constructor(buffer: SharedArrayBuffer, thread: number) {
    this.buffer = buffer;
    this.thread = thread;
    this.#cells = new Int32Array(buffer);
  }

  /** Per thread: its connections, its worst event-loop delay since last read (µs), when its next report is due (ms). */
  static allocate(threads: number): SharedArrayBuffer {
    return new SharedArrayBuffer((FIRST_THREAD + 3 * threads) * Int32Array.BYTES_PER_ELEMENT);
  }

  /** Connections open (or being upgraded) in the whole process. */
  get open(): number {
    return Atomics.load(this.#cells, TOTAL);
  }

  /** Connections open on thread `thread`. */
  openOn(thread: number): number {
    return Atomics.load(this.#cells, FIRST_THREAD + thread);
  }

  get threads(): number {
    return (this.#cells.length - FIRST_THREAD) / 3;
  }

  /**
   * A worker thread's event-loop meter: raises this thread's worst delay (kept until the main thread reads it) and
   * says when its next report is due, `nextInMs` from now (ms on a clock every thread shares: Date.now() modulo
   * 2^31): a thread at rest reports seldom, and is not late until then.
   */
  noteDelay(delayMs: number, nextInMs: number): void {
    const slot = FIRST_THREAD + this.threads + this.thread;
    const us = Math.min(0x7fffffff, Math.round(delayMs * 1000));
    for (let seen = Atomics.load(this.#cells, slot); us > seen; seen = Atomics.load(this.#cells, slot)) {
      if (Atomics.compareExchange(this.#cells, slot, seen, us) === seen) break;
    }
    // 0 means "not watched" (retire).
    Atomics.store(this.#cells, FIRST_THREAD + 2 * this.threads + this.thread, (heartbeat() + Math.ceil(nextInMs)) % 0x80000000 || 1);
  }

  /** A worker thread that is ending stops being watched (its reports stop for good). */
  retire(): void {
    Atomics.store(this.#cells, FIRST_THREAD + 2 * this.threads + this.thread, 0);
  }

  /**
   * The worst event-loop delay of the other threads since the last call (ms): what they reported, or how long past
   * its due time one's next report is (a thread stuck right now cannot report).
   */
  othersDelayMs(): number {
    const threads = this.threads;
    const now = heartbeat();
    let worst = 0;
    for (let t = 0; t < threads; t++) {
      if (t === this.thread) continue;
      const reported = Atomics.exchange(this.#cells, FIRST_THREAD + threads + t, 0) / 1000;
      const due = Atomics.load(this.#cells, FIRST_THREAD + 2 * threads + t);
      // now - due on the folded clock, signed (a report due in the future is not late).
      const late = due === 0 ? 0 : ((now - due + 0xc0000000) % 0x80000000) - 0x40000000;
      worst = Math.max(worst, reported, late);
    }
    return worst;
  }

  /** True once the process began its drain: from then on no thread admits an upgrade, listening or not. */
  get draining(): boolean {
    return Atomics.load(this.#cells, DRAINING) === 1;
  }

  /** The drain began: every thread's gate refuses upgrades at once, before each thread has closed its listener. */
  drain(): void {
    Atomics.store(this.#cells, DRAINING, 1);
  }

  get cells(): Int32Array {
    return this.#cells;
  }
}

/** Milliseconds on a clock every thread reads alike, folded into an Int32 cell. */
function heartbeat(): number {
  return Date.now() % 0x80000000;
}

export class CapacityGate implements UpgradeGate {
  readonly #cells: Int32Array;
  readonly #slot: number;
  readonly #overloadRefusal: Refusal;
  readonly #onFull: FullListener;
  #full = false;
  /**
   * Called at every upgrade, before the load is read: this thread's capacity watches come back to full rate if they
   * were at rest (ProcessLoad.wake). Set by whoever runs them; nothing by default.
   */
  wake: () => void = () => {};

  /**
   * @param state shared by every thread's gate; the thread that builds the cap passes it, the others pass null
   * @param retryAfterS what an overloaded relay asks clients to wait (seconds)
   */
  constructor(state: GateState, cap: ConnectionCap | null, retryAfterS: number, onFull: FullListener = () => {}) {
    this.#cells = state.cells;
    this.#slot = FIRST_THREAD + state.thread;
    this.#onFull = onFull;
    if (cap !== null) this.cap = cap;
    this.#overloadRefusal = {
      ok: false,
      status: '503 Service Unavailable',
      reason: 'overloaded',
      body: 'server is overloaded, try again later',
      headers: { 'Retry-After': String(retryAfterS) },
    };
  }

  get cap(): ConnectionCap {
    const max = Atomics.load(this.#cells, CAP);
    return { max: max === NO_CAP ? Infinity : max, reason: REASONS[Atomics.load(this.#cells, CAP_REASON)] ?? 'max_connections' };
  }

  /** A new cap (a reload of limits.max_connections) for every thread; open connections above it stay open. */
  set cap(cap: ConnectionCap) {
    Atomics.store(this.#cells, CAP_REASON, REASONS.indexOf(cap.reason));
    Atomics.store(this.#cells, CAP, cap.max === Infinity ? NO_CAP : Math.min(cap.max, 0x7fffffff));
  }

  get overloaded(): boolean {
    return Atomics.load(this.#cells, OVERLOADED) === 1;
  }

  /** Set by GateState.drain on any thread: the process is shutting down. */
  get draining(): boolean {
    return Atomics.load(this.#cells, DRAINING) === 1;
  }

  /** Set by the load monitor; while true, every upgrade on every thread is refused with 503 `overloaded`. */
  set overloaded(on: boolean) {
    Atomics.store(this.#cells, OVERLOADED, on ? 1 : 0);
  }

  /** Upgrade requests checked so far on every thread: each one is answered right after (upgraded or refused). */
  get checks(): number {
    return Atomics.load(this.#cells, CHECKS);
  }

  /** Connections open (or being upgraded) in the whole process. */
  get open(): number {
    return Atomics.load(this.#cells, TOTAL);
  }

  check(): Refusal | null {
    Atomics.add(this.#cells, CHECKS, 1);
    this.wake();
    if (Atomics.load(this.#cells, OVERLOADED) === 1) return this.#overloadRefusal;
    return this.open >= this.#max() ? this.#capReached() : this.#notFull();
  }

  take(): Refusal | null {
    if (Atomics.load(this.#cells, OVERLOADED) === 1) return this.#overloadRefusal;
    // Reserve first, then look: two threads racing for the last place cannot both get it.
    if (Atomics.add(this.#cells, TOTAL, 1) >= this.#max()) {
      Atomics.sub(this.#cells, TOTAL, 1);
      return this.#capReached();
    }
    Atomics.add(this.#cells, this.#slot, 1);
    return this.#notFull();
  }

  release(): void {
    Atomics.sub(this.#cells, TOTAL, 1);
    Atomics.sub(this.#cells, this.#slot, 1);
  }

  #max(): number {
    const max = Atomics.load(this.#cells, CAP);
    return max === NO_CAP ? Infinity : max;
  }

  #capReached(): Refusal {
    const cap = this.cap;
    if (!this.#full) {
      this.#full = true;
      this.#onFull(cap);
    }
    return CAP_REFUSALS[cap.reason];
  }

  #notFull(): null {
    this.#full = false;
    return null;
  }
}
