// A handshake sent one byte per 100 ms: uWS's deadline runs from the connection, so trickling does not extend it.
import { describe, expect, it } from 'vitest';
import { expectActiveConnections, expectServesFreshClient } from '../../helpers/health.js';
import { RawSocket, upgradeRequest } from '../../helpers/raw.js';
import { startRelay } from '../../helpers/relay.js';
import { until, within } from '../../helpers/wait.js';

/** uWS drops a connection that has not sent a complete request within 10 s (checked every 4 s). */
const UWS_HTTP_DEADLINE_MS = 16_000;

describe('slowloris', () => {
  it('slowloris (one byte per 100 ms): others are served, and the slow handshake is dropped before it completes', async () => {
    const relay = await startRelay();
    const slow = await RawSocket.open(relay.wsPort);
    const request = upgradeRequest({ 'X-Padding': 'p'.repeat(100) });
    let sent = 0;
    const trickle = setInterval(() => {
      if (slow.isClosed || sent >= request.length) clearInterval(trickle);
      else slow.write(request[sent++] ?? '');
    }, 100);
    try {
      await until(() => sent >= 20, 10_000, 'the first 20 bytes');
      await expectServesFreshClient(relay);
      await within(slow.closed, UWS_HTTP_DEADLINE_MS, 'uWS to drop the slow handshake');
      // The deadline counts from the connection, not from the last byte: trickling does not extend it.
      expect(sent).toBeLessThan(request.length);
      expect(slow.received.length).toBe(0);
    } finally {
      clearInterval(trickle);
    }
    await expectActiveConnections(relay, 0);
    await expectServesFreshClient(relay);
  }, 30_000);
});
