// Characterisation of uWebSockets.js itself, not of relay code: its fixed HTTP deadline. uWS drops a connection that
// has not sent a complete request within 10 s of connecting on 20.30, 30 s on 20.57 (checked every 4 s: the build's
// `httpRequestTimeoutS` feature); the relay has no setting for it and relies on it against slowloris handshakes and
// garbage. If a uWS upgrade changes that, this fails and the README's "What uWebSockets.js does by itself" and
// "uWS builds" need revisiting. The cases share one relay and one wait (about 12 s on 20.30, 32 s on 20.57).
import { describe, expect, it } from 'vitest';
import { expectActiveConnections, expectServesFreshClient } from '../helpers/health.js';
import { RawSocket, upgradeRequest } from '../helpers/raw.js';
import { startRelay } from '../helpers/relay.js';
import { randomBytes, seededRandom } from '../helpers/seeded.js';
import { until, within } from '../helpers/wait.js';

/** Over the build's deadline: one 4 s check interval, plus slack for a loaded machine. */
const DEADLINE_SLACK_MS = 6_000;

describe('uWS characterisation: the HTTP deadline', () => {
  it('garbage and a handshake trickled one byte per 100 ms are dropped unanswered by the deadline; others are served meanwhile', async () => {
    const relay = await startRelay();
    const deadlineMs = relay.uws.features.httpRequestTimeoutS * 1000 + DEADLINE_SLACK_MS;
    const random = seededRandom(6);
    const garbage = await RawSocket.open(relay.wsPort);
    garbage.write(randomBytes(random, 2048));
    const terminated = await RawSocket.open(relay.wsPort);
    terminated.write(Buffer.concat([randomBytes(random, 512), Buffer.from('\r\n\r\n')]));

    const slow = await RawSocket.open(relay.wsPort);
    // Longer than can be trickled before the deadline: a complete request would mean the deadline was missed.
    const request = upgradeRequest({ 'X-Padding': 'p'.repeat(deadlineMs / 100) });
    let sent = 0;
    const trickle = setInterval(() => {
      if (slow.isClosed || sent >= request.length) clearInterval(trickle);
      else slow.write(request[sent++] ?? '');
    }, 100);
    try {
      await until(() => sent >= 20, 10_000, 'the first 20 trickled bytes');
      await expectServesFreshClient(relay);
      await within(Promise.all([garbage.closed, terminated.closed, slow.closed]), deadlineMs, 'uWS to drop all three');
    } finally {
      clearInterval(trickle);
    }
    // Unparseable input is answered by closing the connection, never with a response (and never a 101).
    expect(garbage.received.toString('latin1')).not.toContain('101');
    expect(terminated.received.toString('latin1')).not.toContain('101');
    // The deadline counts from the connection, not from the last byte: trickling does not extend it.
    expect(sent).toBeLessThan(request.length);
    expect(slow.received.length).toBe(0);
    await expectActiveConnections(relay, 0);
    await expectServesFreshClient(relay);
  }, 60_000);
});
