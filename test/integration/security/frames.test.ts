// Bad input on the wire: after each attack the relay still serves a fresh client, the attacker got the documented
// answer, and relay_connections_active tells the truth.
import { describe, expect, it } from 'vitest';
import { TestClient } from '../../helpers/client.js';
import { disconnections, expectActiveConnections, expectServesFreshClient } from '../../helpers/health.js';
import { Opcode, RawSocket, closePayload, frame, upgradeRequest } from '../../helpers/raw.js';
import { startRelay } from '../../helpers/relay.js';
import { randomBytes, seededRandom } from '../../helpers/seeded.js';
import { until, within } from '../../helpers/wait.js';

/** uWS drops a connection that has not sent a complete request within 10 s (checked every 4 s). */
const UWS_HTTP_DEADLINE_MS = 16_000;

async function upgraded(port: number): Promise<RawSocket> {
  const raw = await RawSocket.open(port);
  expect((await raw.handshake()).status).toBe(101);
  return raw;
}

describe('before the handshake', () => {
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

describe('invalid frames after the handshake', () => {
  // uWS answers protocol violations by dropping TCP without a close frame (the client sees 1006); a close frame with a
  // code that may not be sent gets an empty close frame back (the client sees 1005).
  const cases: [string, Buffer, 'drop' | 'empty close'][] = [
    ['reserved bits set', frame({ opcode: Opcode.text, rsv: 4, payload: 'hello' }), 'drop'],
    ['unknown data opcode 3', frame({ opcode: 3, payload: 'hello' }), 'drop'],
    ['unknown control opcode 11', frame({ opcode: 11, payload: 'hello' }), 'drop'],
    ['a control frame over 125 bytes', frame({ opcode: Opcode.ping, payload: Buffer.alloc(126) }), 'drop'],
    ['a fragmented control frame', frame({ opcode: Opcode.ping, fin: false, payload: 'x' }), 'drop'],
    ['a continuation with nothing to continue', frame({ opcode: Opcode.continuation, payload: 'x' }), 'drop'],
    ['a close frame with code 999', frame({ opcode: Opcode.close, payload: closePayload(999) }), 'empty close'],
    ['a close frame with reserved code 1005', frame({ opcode: Opcode.close, payload: closePayload(1005) }), 'empty close'],
    ['a close frame with a one-byte payload', frame({ opcode: Opcode.close, payload: Buffer.from([3]) }), 'empty close'],
  ];

  it.each(cases)('%s: the connection ends, the relay carries on', async (_what, bytes, answer) => {
    const relay = await startRelay();
    const bystander = await new TestClient(relay.url).opened();
    const raw = await upgraded(relay.wsPort);
    raw.write(bytes);
    await within(raw.closed, 5000, 'the relay to end the connection');
    const frames = raw.frames();
    if (answer === 'drop') expect(frames).toEqual([]);
    else expect(frames.map((f) => [f.opcode, f.payload.length])).toEqual([[Opcode.close, 0]]);
    await expectActiveConnections(relay, 1);
    await expectServesFreshClient(relay);
    await bystander.close();
  });

  it('a text frame with invalid UTF-8 is dropped and counted as invalid_utf8', async () => {
    const relay = await startRelay();
    const watcher = await new TestClient(relay.url).opened();
    const raw = await upgraded(relay.wsPort);
    raw.write(frame({ opcode: Opcode.text, payload: Buffer.from([0x68, 0xc3, 0x28]) }));
    await within(raw.closed, 5000, 'the relay to end the connection');
    expect(raw.frames()).toEqual([]);
    expect(await disconnections(relay, 'invalid_utf8')).toBe(1);
    expect(watcher.inbox).toEqual([]);
    await expectActiveConnections(relay, 1);
    await expectServesFreshClient(relay);
    await watcher.close();
  });

  it('an unmasked client frame is not refused: uWS reads the next 4 bytes as the mask key (documented)', async () => {
    const relay = await startRelay();
    const watcher = await new TestClient(relay.url).opened();
    const raw = await upgraded(relay.wsPort);
    const payload = Buffer.from('ABCDE');
    raw.write(frame({ opcode: Opcode.binary, payload, mask: false }));
    raw.write(Buffer.from('wxyz'));
    const [got] = await watcher.received(1);
    // Mask key = "ABCD", masked payload = "E" + "wxyz": the client's own bytes, garbled, never anyone else's.
    const expected = Buffer.from('Ewxyz').map((b, i) => b ^ (payload[i % 4] ?? 0));
    expect(got?.data).toEqual(Buffer.from(expected));
    expect(got?.data).not.toEqual(payload);
    raw.socket.destroy();
    await expectActiveConnections(relay, 1);
    await expectServesFreshClient(relay);
    await watcher.close();
  });
});

describe('size and scale', () => {
  it('a message one byte over max_payload_bytes gets a 1009 close frame; one at the limit is relayed', async () => {
    const relay = await startRelay({ relay: { max_payload_bytes: 1024 } });
    const client = await new TestClient(relay.url).opened();
    client.send(Buffer.alloc(1024, 1));
    expect((await client.received(1))[0]?.data.length).toBe(1024);
    client.send(Buffer.alloc(1025, 1));
    expect(await within(client.closed, 5000, 'the 1009 close')).toEqual({ code: 1009, reason: 'message too big' });
    expect(await disconnections(relay, 'payload_too_big')).toBe(1);
    await expectActiveConnections(relay, 0);
    await expectServesFreshClient(relay);
  });

  it('1,000 connections opened and dropped at once', async () => {
    const relay = await startRelay();
    const sockets = await Promise.all(Array.from({ length: 1000 }, () => upgraded(relay.wsPort)));
    await expectActiveConnections(relay, 1000, 15_000);
    for (const s of sockets) s.socket.destroy();
    await expectActiveConnections(relay, 0, 15_000);
    expect(await disconnections(relay, 'client_close')).toBe(1000);
    await expectServesFreshClient(relay);
  }, 60_000);
});
