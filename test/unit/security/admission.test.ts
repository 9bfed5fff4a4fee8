import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/logger.js';
import type { AdmissionVerdict, Hub, SocketData, UpgradeInfo } from '../../../src/relay/hub.js';
import type { WebSocket } from '../../../src/relay/uws.js';
import { SecurityAdmission, type SecurityAdmissionOptions } from '../../../src/security/admission.js';
import { ClientIpResolver } from '../../../src/security/client-ip.js';
import type { JwtVerdict, JwtVerifier } from '../../../src/security/jwt.js';
import { ThrottledLog } from '../../../src/security/log.js';

const info = (ip = '198.51.100.1'): UpgradeInfo => ({ url: '/', query: 'token=t', headers: {}, peerIp: ip });

/** A JWT verifier whose answers the test releases by hand, all in the same tick. */
function heldVerifier(): { verifier: JwtVerifier; releaseAll: (v: JwtVerdict) => void } {
  const pending: ((v: JwtVerdict) => void)[] = [];
  const verifier = { verify: () => new Promise<JwtVerdict>((resolve) => pending.push(resolve)) } as unknown as JwtVerifier;
  return { verifier, releaseAll: (v) => pending.splice(0).forEach((resolve) => resolve(v)) };
}

function admission(limits: object, extra: Partial<SecurityAdmissionOptions> = {}) {
  const endSocket = vi.fn();
  const hub = { endSocket } as unknown as Hub;
  const a = new SecurityAdmission({
    limits: parseConfig({ limits }).limits,
    origins: null,
    clientIp: new ClientIpResolver([]),
    tokens: null,
    jwt: null,
    upgrades: null,
    hub: () => hub,
    log: new ThrottledLog(createLogger('silent')),
    now: () => 0,
    wallNow: Date.now,
    ...extra,
  });
  return { a, endSocket };
}

function socketFor(verdict: AdmissionVerdict): { ws: WebSocket<SocketData>; data: SocketData } {
  if (!verdict.ok) throw new Error('refused');
  const data: SocketData = { topic: 'relay', ip: verdict.ip ?? '', decided: null, bufferedAtClose: 0, ext: verdict.ext };
  return { ws: { getUserData: () => data } as unknown as WebSocket<SocketData>, data };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SecurityAdmission', () => {
  it('reserves a slot at the verdict, so JWT checks finishing together cannot overfill max_connections', async () => {
    const { verifier, releaseAll } = heldVerifier();
    const { a } = admission({ max_connections: 2 }, { jwt: verifier });
    const verdicts = Array.from({ length: 5 }, () => a.admit(info()) as Promise<AdmissionVerdict>);
    releaseAll({ ok: true, expiresAtMs: null });
    const settled = await Promise.all(verdicts);
    expect(settled.filter((v) => v.ok)).toHaveLength(2);
    expect(settled.filter((v) => !v.ok).map((v) => !v.ok && v.status)).toEqual(Array(3).fill('503 Service Unavailable'));
  });

  it('releases a reservation whose socket never opened (client gone, relay draining)', async () => {
    const { a } = admission({ max_connections: 1 });
    expect((a.admit(info()) as AdmissionVerdict).ok).toBe(true);
    expect(a.admitted).toBe(1);
    expect((a.admit(info()) as AdmissionVerdict).ok).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.admitted).toBe(0);
    expect((a.admit(info()) as AdmissionVerdict).ok).toBe(true);
  });

  it('counts open sockets per IP until they close, once each', () => {
    const { a } = admission({ max_connections_per_ip: 1 });
    const { ws, data } = socketFor(a.admit(info()) as AdmissionVerdict);
    a.opened(ws);
    expect((a.admit(info()) as AdmissionVerdict).ok).toBe(false);
    expect((a.admit(info('198.51.100.2')) as AdmissionVerdict).ok).toBe(true);
    a.closed(data);
    a.closed(data);
    expect(a.admitted).toBe(1); // only the reservation of 198.51.100.2 is left
    expect((a.admit(info()) as AdmissionVerdict).ok).toBe(true);
  });

  it('ends the socket with 4001 when its token expires, and not after it closed', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { a, endSocket } = admission({});
    const first = socketFor(a.admit(info()) as AdmissionVerdict);
    const second = socketFor(a.admit(info()) as AdmissionVerdict);
    // The JWT path would set this from `exp`; set it directly on the per-socket state.
    (first.data.ext as { expiresAtMs: number }).expiresAtMs = Date.now() + 5000;
    (second.data.ext as { expiresAtMs: number }).expiresAtMs = Date.now() + 5000;
    a.opened(first.ws);
    a.opened(second.ws);
    a.closed(second.data);
    vi.advanceTimersByTime(4999);
    expect(endSocket).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(endSocket).toHaveBeenCalledTimes(1);
    expect(endSocket).toHaveBeenCalledWith(first.ws, 'token_expired', 4001, 'token expired');
  });

  it('re-arms expiries beyond the 24.8-day timer ceiling instead of firing at once', () => {
    vi.useFakeTimers({ now: 0 });
    const { a, endSocket } = admission({});
    const { ws, data } = socketFor(a.admit(info()) as AdmissionVerdict);
    const forty_days = 40 * 24 * 3600 * 1000;
    (data.ext as { expiresAtMs: number }).expiresAtMs = forty_days;
    a.opened(ws);
    vi.advanceTimersByTime(2 ** 31);
    expect(endSocket).not.toHaveBeenCalled();
    vi.advanceTimersByTime(forty_days - 2 ** 31);
    expect(endSocket).toHaveBeenCalledTimes(1);
  });
});
