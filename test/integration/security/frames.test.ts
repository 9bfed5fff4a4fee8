// Bad frames on an open WebSocket, oversized messages, mass connects: after each attack the relay still serves a
// fresh client, the attacker got the documented answer, and relay_connections_active tells the truth.
import { describe, expect, it } from 'vitest';
import { TestClient } from '../../helpers/client.js';
import { disconnections, expectActiveConnections, expectServesFreshClient } from '../../helpers/health.js';
import { Opcode, RawSocket, closePayload, frame } from '../../helpers/raw.js';
import { startRelay } from '../../helpers/relay.js';
import { within } from '../../helpers/wait.js';

async function upgraded(port: number): Promise<RawSocket> {
  const raw = await RawSocket.open(port);
  expect((await raw.handshake()).status).toBe(101);
  return raw;
}

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
    // In waves of 200, so a loaded machine's listen backlog never forces SYN retries past the handshake timeout.
    const sockets: RawSocket[] = [];
    for (let wave = 0; wave < 5; wave++) sockets.push(...(await Promise.all(Array.from({ length: 200 }, () => upgraded(relay.wsPort)))));
    await expectActiveConnections(relay, 1000, 15_000);
    for (const s of sockets) s.socket.destroy();
    await expectActiveConnections(relay, 0, 15_000);
    expect(await disconnections(relay, 'client_close')).toBe(1000);
    await expectServesFreshClient(relay);
  }, 60_000);
});
