// No spin at the file limit. uWS's accept loop retries accept() whenever the listen socket is readable; once the
// descriptor table is full every retry fails with EMFILE and the event loop spins at 100% CPU while clients wait.
// This guard notices a full table that stays full while no upgrade request is answered (a probe on the main thread's
// beat, see capacity/index.ts: a burst
// of clients that do send their requests drains by itself, each 503 freeing a descriptor), closes the listen
// socket, gives back its ballast so the metrics server and Redis still find descriptors, and listens again once
// enough descriptors are free.
import type { ReadinessGate } from '../contracts.js';
import type { Logger } from '../logger.js';
import type { FileTable } from './files.js';

/** The listener the guard pauses: the hub's WebSocket listen socket. */
export interface ListenerControl {
  /** Closes the listen socket; connections already accepted are unaffected. */
  pause(): void;
  /** Listens again on the same address and port; false when it cannot be bound (another process took the port). */
  resume(): Promise<boolean>;
}

export interface ListenerGuardOptions {
  readonly files: FileTable;
  readonly listener: ListenerControl;
  readonly readiness: ReadinessGate;
  readonly logger: Logger;
  /** Descriptors held while accepting, given back when the table fills. */
  readonly ballast: number;
  /** Free descriptors needed (besides the ballast) before listening again: the hysteresis. */
  readonly resumeFree: number;
  /** RLIMIT_NOFILE for the log line; null when unknown. */
  readonly limit: number | null;
  /** Upgrade requests answered so far (monotonic): progress that frees descriptors. */
  readonly answered: () => number;
  /** How long the table must stay full with no upgrade answered before the listener closes (ms). */
  readonly stuckMs: number;
  /** Monotonic clock (ms). */
  readonly now: () => number;
}

const READINESS = 'listener';

export class ListenerGuard {
  readonly #opts: ListenerGuardOptions;
  #ballast: number[];
  #accepting = true;
  #busy = false;
  #relistenFailed = false;
  /** Since when the table is full with `answered` unchanged; null while it is not full. */
  #stuck: { since: number; answered: number } | null = null;
  #pauses = 0;

  constructor(opts: ListenerGuardOptions) {
    this.#opts = opts;
    this.#ballast = opts.files.reserve(opts.ballast);
  }

  /** 1 while the listen socket is open. */
  get accepting(): boolean {
    return this.#accepting;
  }

  /** Times the listener was closed because the descriptor table was full. */
  get pauses(): number {
    return this.#pauses;
  }

  /**
   * True while the guard has something to watch: the listener is closed, or the last probe found the table full. The
   * probes then run at full rate even with no client (connections that never send their request hold descriptors
   * without any upgrade).
   */
  get watching(): boolean {
    return !this.#accepting || this.#stuck !== null;
  }

  /** One probe: pause when the table is full, resume when enough is free. The caller runs it periodically. */
  async check(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      if (this.#accepting) this.#pauseIfFull();
      else await this.#resumeIfFree();
    } catch (err) {
      this.#opts.logger.error({ err }, 'file-limit probe failed');
    } finally {
      this.#busy = false;
    }
  }

  /** Gives the ballast back. Idempotent. */
  close(): void {
    this.#opts.files.release(this.#ballast);
  }

  #pauseIfFull(): void {
    const o = this.#opts;
    if (!o.files.full()) {
      this.#stuck = null;
      return;
    }
    const answered = o.answered();
    const now = o.now();
    if (this.#stuck === null || this.#stuck.answered !== answered) {
      this.#stuck = { since: now, answered };
      return;
    }
    if (now - this.#stuck.since < o.stuckMs) return;
    this.#stuck = null;
    o.listener.pause();
    o.files.release(this.#ballast);
    this.#accepting = false;
    this.#pauses++;
    o.readiness.block(READINESS, `open-file limit (${o.limit ?? 'unknown'}) reached: not accepting connections`);
    o.logger.warn(
      { open_file_limit: o.limit, resume_free: o.resumeFree },
      'open-file limit reached: stopped accepting connections until descriptors are free (raise ulimit -n, or lower limits.max_connections)',
    );
  }

  async #resumeIfFree(): Promise<void> {
    const o = this.#opts;
    if (!o.files.freeAtLeast(o.resumeFree + o.ballast)) return;
    this.#ballast = o.files.reserve(o.ballast);
    if (!(await o.listener.resume())) {
      o.files.release(this.#ballast);
      if (!this.#relistenFailed) {
        this.#relistenFailed = true;
        o.readiness.block(READINESS, 'cannot listen again: the port was taken while the listener was closed');
        o.logger.error('cannot listen again after the open-file limit: the port was taken while the listener was closed; retrying');
      }
      return;
    }
    this.#accepting = true;
    this.#relistenFailed = false;
    o.readiness.unblock(READINESS);
    o.logger.info('descriptors free again: accepting connections');
  }
}
