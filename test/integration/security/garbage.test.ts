// Random bytes on the WebSocket port instead of a handshake: never answered, dropped by uWS's HTTP deadline.
import { describe, expect, it } from 'vitest';
import { expectActiveConnections, expectServesFreshClient } from '../../helpers/health.js';
import { RawSocket } from '../../helpers/raw.js';
import { startRelay } from '../../helpers/relay.js';
import { randomBytes, seededRandom } from '../../helpers/seeded.js';
import { within } from '../../helpers/wait.js';

/** uWS drops a connection that has not sent a complete request within 10 s (checked every 4 s). */
const UWS_HTTP_DEADLINE_MS = 16_000;

describe('random bytes instead of a handshake', () => {
  it('random bytes instead of a handshake: no answer, dropped by the HTTP deadline, others served meanwhile', async () => {
    const relay = await startRelay();
    const random = seededRandom(6);
    const garbage = await RawSocket.open(relay.wsPort);
    garbage.write(randomBytes(random, 2048));
    const terminated = await RawSocket.open(relay.wsPort);
    terminated.write(Buffer.concat([randomBytes(random, 512), Buffer.from('\r\n\r\n')]));
    await expectServesFreshClient(relay);
    await within(Promise.all([garbage.closed, terminated.closed]), UWS_HTTP_DEADLINE_MS, 'uWS to drop the garbage connections');
    // uWS answers unparseable input by closing the connection, never with a response (and never a 101).
    expect(garbage.received.toString('latin1')).not.toContain('101');
    expect(terminated.received.toString('latin1')).not.toContain('101');
    await expectActiveConnections(relay, 0);
  }, 30_000);
});
