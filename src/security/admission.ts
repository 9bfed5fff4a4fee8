// The upgrade gate: upgrade rate, Origin, connection counts, then the credential, all before a socket exists.
// Each refusal is an HTTP status the hub sends and counts under relay_upgrades_rejected_total{reason}.
import type { Admission, AdmissionVerdict, EndSocket, SocketRef, UpgradeInfo } from '../contracts.js';
import type { LimitsConfig } from '../config/security.js';
import type { TokenBucket } from './bucket.js';
import { answerProtocol, extractCredential } from './credentials.js';
import { ipKey, type ClientIpResolver } from './client-ip.js';
import type { JwtVerifier } from './jwt.js';
import type { ThrottledLog } from './log.js';
import type { OriginPolicy } from './origin.js';
import { AdmissionState } from './state.js';
import type { TokenSet } from './tokens.js';

/** The part of the admission a reload replaces as one object: what it checks, not what it counts. */
export interface AdmissionPolicy {
  readonly limits: LimitsConfig;
  /** null when no Origin check is configured. */
  readonly origins: OriginPolicy | null;
  readonly clientIp: ClientIpResolver;
  /** Exactly one of tokens/jwt is set when auth is on; both null for auth: none. */
  readonly tokens: TokenSet | null;
  readonly jwt: JwtVerifier | null;
  /** Node-wide upgrade budget; null = unlimited. */
  readonly upgrades: TokenBucket | null;
}

export interface SecurityAdmissionOptions extends AdmissionPolicy {
  readonly log: ThrottledLog;
  /** Monotonic clock (ms) for the buckets. */
  readonly now: () => number;
  /** Wall clock (ms since epoch) for token expiry. */
  readonly wallNow: () => number;
}

type Verdict = AdmissionVerdict<AdmissionState>;
type Refusal = Extract<Verdict, { ok: false }>;

const REFUSALS = {
  upgrade_rate: { ok: false, status: '503 Service Unavailable', reason: 'upgrade_rate', body: 'too many connection attempts', headers: { 'Retry-After': '1' } },
  origin: { ok: false, status: '403 Forbidden', reason: 'origin', body: 'origin not allowed' },
  per_ip: { ok: false, status: '429 Too Many Requests', reason: 'per_ip', body: 'too many connections from this address' },
  auth: { ok: false, status: '401 Unauthorized', reason: 'auth', body: 'missing or invalid credential', headers: { 'WWW-Authenticate': 'Bearer' } },
} as const satisfies Record<string, Refusal>;

/** setTimeout's ceiling (about 24.8 days); later expiries are re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SecurityAdmission implements Admission<AdmissionState> {
  readonly #opts: SecurityAdmissionOptions;
  #policy: AdmissionPolicy;
  /** Set by the hub before the first upgrade. */
  #end: EndSocket | null = null;
  /** Reserved + open connections this node counts. */
  #admitted = 0;
  readonly #perIp = new Map<string, number>();

  constructor(opts: SecurityAdmissionOptions) {
    this.#opts = opts;
    this.#policy = opts;
  }

  /** The checks in force. */
  get policy(): AdmissionPolicy {
    return this.#policy;
  }

  /**
   * Replaces the checks for the upgrades that follow (one whose JWT is being verified finishes under the policy it
   * started with, counted against the new limits). Open connections, their counts and token expiries stay.
   */
  setPolicy(policy: AdmissionPolicy): void {
    this.#policy = policy;
  }

  /** Connections counted now (reserved or open); equals hub.connections once pending upgrades settle. */
  get admitted(): number {
    return this.#admitted;
  }

  attach(end: EndSocket): void {
    this.#end = end;
  }

  admit(info: UpgradeInfo): Verdict | Promise<Verdict> {
    const o = this.#policy;
    const ip = o.clientIp.resolve(info.peerIp, info.headers['x-forwarded-for'] ?? '');
    if (o.upgrades !== null && !o.upgrades.take(1, this.#opts.now())) return this.#refuse('upgrade_rate', ip);
    if (o.origins !== null && !o.origins.allows(info.headers['origin'] ?? '')) return this.#refuse('origin', ip);
    const key = ipKey(ip);
    const full = this.#capacity(key);
    if (full !== null) return this.#refuse(full, ip);

    if (o.tokens !== null) {
      const { token, protocol } = extractCredential(info.headers, info.query);
      if (token === null || !o.tokens.has(token)) return this.#refuse('auth', ip, token === null ? 'no credential' : 'unknown token');
      return this.#accept(ip, key, protocol, null);
    }
    if (o.jwt !== null) {
      const { token, protocol } = extractCredential(info.headers, info.query);
      if (token === null) return this.#refuse('auth', ip, 'no credential');
      return o.jwt.verify(token).then((verdict) => {
        if (!verdict.ok) return this.#refuse('auth', ip, verdict.why);
        // Other upgrades may have been admitted while the signature was checked.
        const nowFull = this.#capacity(key);
        if (nowFull !== null) return this.#refuse(nowFull, ip);
        return this.#accept(ip, key, protocol, verdict.expiresAtMs);
      });
    }
    return this.#accept(ip, key, answerProtocol(info.headers), null);
  }

  opened(state: AdmissionState, socket: SocketRef): void {
    state.phase = 'open';
    if (state.expiresAtMs !== null) this.#armExpiry(socket, state);
  }

  /** Runs inside the hub's close handler, possibly within ws.end(): it must not throw. */
  closed(state: AdmissionState): void {
    if (state.expiryTimer !== null) {
      clearTimeout(state.expiryTimer);
      state.expiryTimer = null;
    }
    // A socket may close while its slot is still only reserved (e.g. an open hook failed): free it either way.
    if (state.phase !== 'released') this.#count(state.ipKey, -1);
    state.phase = 'released';
  }

  /** Which limit, if any, one more connection from `key` would break. */
  #capacity(key: string): 'per_ip' | null {
    // limits.max_connections is the capacity gate's (relay/hub.ts asks it first, for every thread of the process).
    const { max_connections_per_ip } = this.#policy.limits;
    if (max_connections_per_ip > 0 && (this.#perIp.get(key) ?? 0) >= max_connections_per_ip) return 'per_ip';
    return null;
  }

  /**
   * Counts the connection from the verdict on, so concurrent upgrades cannot all squeeze through the same free
   * slot. The hub either opens the socket (opened, later closed) or, when that never happens (client gone, relay
   * draining, the cap reached meanwhile), hands the state back through closed(), which releases the reservation. On
   * a worker thread the socket opens a round trip later, so the reservation must last until one of the two.
   */
  #accept(ip: string, key: string, protocol: string, expiresAtMs: number | null): Verdict {
    const state = new AdmissionState(ip, key);
    state.expiresAtMs = expiresAtMs;
    state.phase = 'reserved';
    this.#count(key, +1);
    return { ok: true, ip, protocol, state };
  }

  /** Per-IP counts are kept even while max_connections_per_ip is 0, so a reload that sets it sees the true counts. */
  #count(key: string, delta: 1 | -1): void {
    this.#admitted += delta;
    const n = (this.#perIp.get(key) ?? 0) + delta;
    if (n > 0) this.#perIp.set(key, n);
    else this.#perIp.delete(key);
  }

  #refuse(reason: keyof typeof REFUSALS, ip: string, why?: string): Refusal {
    const refusal = REFUSALS[reason];
    this.#opts.log.info(reason, { ip, status: refusal.status, ...(why === undefined ? {} : { why }) }, 'upgrade refused');
    return refusal;
  }

  #armExpiry(socket: SocketRef, state: AdmissionState): void {
    const expiresAtMs = state.expiresAtMs ?? 0;
    const delay = Math.min(Math.max(0, expiresAtMs - this.#opts.wallNow()), MAX_TIMER_MS);
    state.expiryTimer = setTimeout(() => {
      state.expiryTimer = null;
      if (state.phase !== 'open') return;
      if (this.#opts.wallNow() < expiresAtMs) {
        this.#armExpiry(socket, state);
        return;
      }
      this.#opts.log.info('token_expired', { ip: state.ip }, 'token expired, closing');
      this.#end?.(socket, 'token_expired');
    }, delay);
    state.expiryTimer.unref();
  }
}
