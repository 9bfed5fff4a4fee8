// Per-connection message and byte rate limits (token buckets), checked for every message before it is relayed.
// Hot path: no allocation after the upgrade, no logging unless over budget (then throttled). It decides; the hub
// drops the message or ends the socket.
import type { LimitDecision, MessageLimiter } from '../contracts.js';
import type { LimitsConfig } from '../config/security.js';
import type { ThrottledLog } from './log.js';
import { RateState } from './state.js';

export interface RateLimiterOptions {
  readonly limits: LimitsConfig;
  readonly log: ThrottledLog;
  /** Monotonic clock (ms). */
  readonly now: () => number;
}

// Shared answers: the per-message path returns one of these, never a new object.
const RELAY: LimitDecision = { action: 'relay' };
const DROP: LimitDecision = { action: 'drop', reason: 'rate_limited' };
const CLOSE: LimitDecision = { action: 'close', reason: 'rate_limited' };

/** Drops, or has the hub close (1008), a connection's message over its message or byte budget; others are untouched. */
export class RateLimiter implements MessageLimiter<RateState> {
  readonly #opts: RateLimiterOptions;
  #limits: LimitsConfig;
  #drop: boolean;
  /** Messages dropped under on_rate_exceeded: drop; read at scrape time. */
  dropped = 0;

  constructor(opts: RateLimiterOptions) {
    this.#opts = opts;
    this.#limits = opts.limits;
    this.#drop = opts.limits.on_rate_exceeded === 'drop';
  }

  /** Applies new limits to every connection from its next message (its buckets start full again). */
  setLimits(limits: LimitsConfig): void {
    this.#limits = limits;
    this.#drop = limits.on_rate_exceeded === 'drop';
  }

  create(ip: string): RateState {
    return new RateState(ip, this.#limits, this.#opts.now());
  }

  check(state: RateState, bytes: number): LimitDecision {
    const now = this.#opts.now();
    if (state.limits !== this.#limits) state.rebuild(this.#limits, now);
    const messages = state.messages;
    const byteBudget = state.bytes;
    const messagesOk = messages === null || (messages.refill(now), messages.canSpend(1));
    const bytesOk = byteBudget === null || (byteBudget.refill(now), byteBudget.canSpend(bytes));
    if (messagesOk && bytesOk) {
      messages?.spend(1);
      byteBudget?.spend(bytes);
      return RELAY;
    }
    if (this.#drop) {
      this.dropped++;
      this.#opts.log.info('rate_limited', { ip: state.ip, action: 'drop' }, 'rate limit exceeded');
      return DROP;
    }
    this.#opts.log.info('rate_limited', { ip: state.ip, action: 'close' }, 'rate limit exceeded');
    return CLOSE;
  }
}
