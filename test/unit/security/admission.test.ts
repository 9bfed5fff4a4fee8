import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/logger.js';
import type { AdmissionVerdict, SocketRef, UpgradeInfo } from '../../../src/contracts.js';
import { SecurityAdmission, type SecurityAdmissionOptions } from '../../../src/security/admission.js';
import { ClientIpResolver } from '../../../src/security/client-ip.js';
import type { JwtVerdict, JwtVerifier } from '../../../src/security/jwt.js';
import { ThrottledLog } from '../../../src/security/log.js';
import type { AdmissionState } from '../../../src/security/state.js';

const info = (ip = '198.51.100.1'): UpgradeInfo => ({ url: '/', query: 'token=t', headers: {}, peerIp: ip });

/** A JWT verifier whose answers the test releases by hand, all in the same tick. */
function heldVerifier(): { verifier: JwtVerifier; releaseAll: (v: JwtVerdict) => void } {
  const pending: ((v: JwtVerdict) => void)[] = [];
  const verifier = { verify: () => new Promise<JwtVerdict>((resolve) => pending.push(resolve)) } as unknown as JwtVerifier;
  return { verifier, releaseAll: (v) => pending.splice(0).forEach((resolve) => resolve(v)) };
}

function admission(limits: object, extra: Partial<SecurityAdmissionOptions> = {}) {
  const endSocket = vi.fn();
  const a = new SecurityAdmission({
    limits: parseConfig({ limits }).limits,
    origins: null,
    clientIp: new ClientIpResolver([]),
    tokens: null,
    jwt: null,
    upgrades: null,
    log: new ThrottledLog(createLogger('silent')),
    now: () => 0,
    wallNow: Date.now,
    ...extra,
  });
  a.attach(endSocket);
  return { a, endSocket };
}

type Verdict = AdmissionVerdict<AdmissionState>;

/** The admission's slot of an accepted socket, and a stand-in for the hub's handle on it. */
function socketFor(verdict: Verdict): { ws: SocketRef; data: AdmissionState } {
  if (!verdict.ok) throw new Error('refused');
  return { ws: {} as SocketRef, data: verdict.state };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SecurityAdmission', () => {
  it('reserves a slot at the verdict, so JWT checks finishing together cannot overfill max_connections_per_ip', async () => {
    const { verifier, releaseAll } = heldVerifier();
    const { a } = admission({ max_connections_per_ip: 2 }, { jwt: verifier });
    const verdicts = Array.from({ length: 5 }, () => a.admit(info()) as Promise<Verdict>);
    releaseAll({ ok: true, expiresAtMs: null });
    const settled = await Promise.all(verdicts);
    expect(settled.filter((v) => v.ok)).toHaveLength(2);
    expect(settled.filter((v) => !v.ok).map((v) => !v.ok && v.status)).toEqual(Array(3).fill('429 Too Many Requests'));
  });

  it('leaves max_connections to the capacity gate, which counts every thread of the process', () => {
    const { a } = admission({ max_connections: 1 });
    expect([(a.admit(info()) as Verdict).ok, (a.admit(info('198.51.100.2')) as Verdict).ok]).toEqual([true, true]);
  });

  it('holds a reservation until the hub opens the socket or hands it back (client gone, relay draining)', async () => {
    const { a } = admission({ max_connections_per_ip: 1 });
    const reserved = a.admit(info()) as Verdict;
    expect(reserved.ok).toBe(true);
    expect(a.admitted).toBe(1);
    // A worker thread's socket opens a round trip later: the reservation outlasts the turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect((a.admit(info()) as Verdict).ok).toBe(false);
    a.closed(socketFor(reserved).data);
    expect(a.admitted).toBe(0);
    expect((a.admit(info()) as Verdict).ok).toBe(true);
  });

  it('counts open sockets per IP until they close, once each', () => {
    const { a } = admission({ max_connections_per_ip: 1 });
    const { ws, data } = socketFor(a.admit(info()) as Verdict);
    a.opened(data, ws);
    expect((a.admit(info()) as Verdict).ok).toBe(false);
    expect((a.admit(info('198.51.100.2')) as Verdict).ok).toBe(true);
    a.closed(data);
    a.closed(data);
    expect(a.admitted).toBe(1); // only the reservation of 198.51.100.2 is left
    expect((a.admit(info()) as Verdict).ok).toBe(true);
  });

  it('ends the socket with 4001 when its token expires, and not after it closed', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { a, endSocket } = admission({});
    const first = socketFor(a.admit(info()) as Verdict);
    const second = socketFor(a.admit(info()) as Verdict);
    // The JWT path would set this from `exp`; set it directly on the per-socket state.
    first.data.expiresAtMs = Date.now() + 5000;
    second.data.expiresAtMs = Date.now() + 5000;
    a.opened(first.data, first.ws);
    a.opened(second.data, second.ws);
    a.closed(second.data);
    vi.advanceTimersByTime(4999);
    expect(endSocket).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(endSocket).toHaveBeenCalledTimes(1);
    expect(endSocket).toHaveBeenCalledWith(first.ws, 'token_expired');
  });

  it('re-arms expiries beyond the 24.8-day timer ceiling instead of firing at once', () => {
    vi.useFakeTimers({ now: 0 });
    const { a, endSocket } = admission({});
    const { ws, data } = socketFor(a.admit(info()) as Verdict);
    const forty_days = 40 * 24 * 3600 * 1000;
    data.expiresAtMs = forty_days;
    a.opened(data, ws);
    vi.advanceTimersByTime(2 ** 31);
    expect(endSocket).not.toHaveBeenCalled();
    vi.advanceTimersByTime(forty_days - 2 ** 31);
    expect(endSocket).toHaveBeenCalledTimes(1);
  });
});
