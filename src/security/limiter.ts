// Per-connection message and byte rate limits (token buckets), checked for every message before it is relayed.
// Hot path: no allocation after a connection's first message, no logging unless over budget (then throttled).
import type { LimitsConfig } from '../config/security.js';
import type { Hub, MessageLimiter, SocketData } from '../relay/hub.js';
import { CloseCode } from '../relay/protocol.js';
import type { WebSocket } from '../relay/uws.js';
import type { ThrottledLog } from './log.js';
import { ConnectionState } from './state.js';

export interface RateLimiterOptions {
  readonly limits: LimitsConfig;
  readonly hub: () => Hub;
  readonly log: ThrottledLog;
  /** Monotonic clock (ms). */
  readonly now: () => number;
}

/** Closes (1008) or drops for a connection over its message or byte budget; other connections are untouched. */
export class RateLimiter implements MessageLimiter {
  readonly #opts: RateLimiterOptions;
  readonly #drop: boolean;
  /** Messages dropped under on_rate_exceeded: drop; read at scrape time. */
  dropped = 0;

  constructor(opts: RateLimiterOptions) {
    this.#opts = opts;
    this.#drop = opts.limits.on_rate_exceeded === 'drop';
  }

  allow(ws: WebSocket<SocketData>, data: SocketData, bytes: number): boolean {
    const state = data.ext instanceof ConnectionState ? data.ext : this.#adopt(data);
    const now = this.#opts.now();
    const messages = state.messages;
    const byteBudget = state.bytes;
    const messagesOk = messages === null || (messages.refill(now), messages.canSpend(1));
    const bytesOk = byteBudget === null || (byteBudget.refill(now), byteBudget.canSpend(bytes));
    if (messagesOk && bytesOk) {
      messages?.spend(1);
      byteBudget?.spend(bytes);
      return true;
    }
    if (this.#drop) {
      this.dropped++;
      this.#opts.log.info('rate_limited', { ip: data.ip, action: 'drop' }, 'rate limit exceeded');
      return false;
    }
    this.#opts.log.info('rate_limited', { ip: data.ip, action: 'close' }, 'rate limit exceeded');
    this.#opts.hub().endSocket(ws, 'rate_limited', CloseCode.policyViolation, 'rate limit exceeded');
    return false;
  }

  /** Without an admission (only rate limits on) nothing created the state at the upgrade: do it on the first message. */
  #adopt(data: SocketData): ConnectionState {
    const state = new ConnectionState(data.ip, this.#opts.limits, this.#opts.now());
    data.ext = state;
    return state;
  }
}
