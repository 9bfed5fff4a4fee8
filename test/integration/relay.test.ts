// Fan-out behaviour a user relies on: every message reaches every client, bytes and frame type unchanged.
import { describe, expect, it } from 'vitest';
import { connectMany, TestClient } from '../helpers/client.js';
import { startRelay } from '../helpers/relay.js';

describe('fan-out', () => {
  it('accepts a WebSocket connection on any path', async () => {
    const relay = await startRelay();
    const a = await new TestClient(`${relay.url}/`).opened();
    const b = await new TestClient(`${relay.url}/some/path?x=1`).opened();
    expect(relay.connections).toBe(2);
    await Promise.all([a.close(), b.close()]);
  });

  it('delivers text as text and binary as binary to every client, the sender included', async () => {
    const relay = await startRelay();
    const [a, b, c] = await connectMany(relay.url, 3);
    const binary = Buffer.from([0, 1, 2, 253, 254, 255]);
    a!.send('héllo 👋');
    await Promise.all([a, b, c].map((cl) => cl!.received(1)));
    b!.send(binary, true);
    for (const client of [a, b, c]) {
      const [first, second] = await client!.received(2);
      expect(first).toMatchObject({ isBinary: false, text: 'héllo 👋' });
      expect(second!.isBinary).toBe(true);
      expect(Buffer.compare(second!.data, binary)).toBe(0);
    }
  });

  it('with echo: false, the sender does not get its own message back and everyone else does', async () => {
    const relay = await startRelay({ relay: { echo: false } });
    const [a, b, c] = await connectMany(relay.url, 3);
    a!.send('from a');
    b!.send('from b');
    expect((await c!.received(2)).map((m) => m.text).sort()).toEqual(['from a', 'from b']);
    expect((await b!.received(1))[0]!.text).toBe('from a');
    expect((await a!.received(1))[0]!.text).toBe('from b');
    // a and b each got exactly one message: a marker sent by c arrives next, nothing of their own before it.
    c!.send('marker');
    expect((await a!.received(2)).map((m) => m.text)).toEqual(['from b', 'marker']);
    expect((await b!.received(2)).map((m) => m.text)).toEqual(['from a', 'marker']);
  });

  it('with rooms: true, only clients on the same path see each other', async () => {
    const relay = await startRelay({ relay: { rooms: true } });
    const [a1, a2] = await connectMany(`${relay.url}/chat/a`, 2);
    const [b1] = await connectMany(`${relay.url}/chat/b`, 1);
    a1!.send('for room a');
    b1!.send('for room b');
    expect((await a2!.received(1)).map((m) => m.text)).toEqual(['for room a']);
    expect((await b1!.received(1)).map((m) => m.text)).toEqual(['for room b']);
    a2!.send('again a');
    expect((await a1!.received(2)).map((m) => m.text)).toEqual(['for room a', 'again a']);
    b1!.send('again b');
    expect((await b1!.received(2)).map((m) => m.text)).toEqual(['for room b', 'again b']);
  });

  it('with rooms: true, the path is taken as-is: /a, /a/, /A and /%61 are different rooms; the query is not part of it', async () => {
    const relay = await startRelay({ relay: { rooms: true } });
    const spellings = ['/a', '/a/', '/A', '/%61', '/a?x=1'];
    const clients = await Promise.all(spellings.map((path) => new TestClient(`${relay.url}${path}`).opened()));
    for (const [i, c] of clients.entries()) c.send(`from ${spellings[i]}`);
    // every message reaches its sender (echo on), so each inbox holds exactly what its room saw
    await Promise.all(clients.map((c, i) => c.received(i === 0 || i === 4 ? 2 : 1)));
    // Every message above was published before these: a late copy in a wrong room would arrive before the echo.
    for (const i of [1, 2, 3]) clients[i]!.send('sync');
    await Promise.all([1, 2, 3].map((i) => clients[i]!.received(2)));
    const seen = clients.map((c) => c.inbox.map((m) => m.text).sort());
    expect(seen).toEqual([
      ['from /a', 'from /a?x=1'],
      ['from /a/', 'sync'],
      ['from /A', 'sync'],
      ['from /%61', 'sync'],
      ['from /a', 'from /a?x=1'],
    ]);
  });

  it('with rooms: false, every path shares one room', async () => {
    const relay = await startRelay();
    const a = await new TestClient(`${relay.url}/chat/a`).opened();
    const b = await new TestClient(`${relay.url}/chat/b`).opened();
    a.send('hi');
    expect((await b.received(1))[0]!.text).toBe('hi');
  });

  it('relays a fragmented message reassembled, as one message', async () => {
    const relay = await startRelay();
    const [sender, receiver] = await connectMany(relay.url, 2);
    sender!.ws.send('part one, ', { fin: false });
    sender!.ws.send('part two, ', { fin: false });
    sender!.ws.send('part three', { fin: true });
    const [msg] = await receiver!.received(1);
    expect(msg!.text).toBe('part one, part two, part three');
  });

  it('150 clients with 5 concurrent senders: every client gets every message exactly once, each sender in order', async () => {
    const relay = await startRelay();
    const clients = await connectMany(relay.url, 150);
    const senders = clients.slice(0, 5);
    const perSender = 40;
    for (let i = 0; i < perSender; i++) senders.forEach((s, id) => s.send(`${id}:${i}`));
    const total = senders.length * perSender;
    await Promise.all(clients.map((c) => c.received(total, 15_000)));
    for (const client of clients) {
      expect(client.inbox).toHaveLength(total);
      const next = new Array<number>(senders.length).fill(0);
      for (const { text } of client.inbox) {
        const [id, seq] = text.split(':').map(Number) as [number, number];
        expect(seq).toBe(next[id]);
        next[id] = seq + 1;
      }
      expect(next).toEqual(new Array<number>(senders.length).fill(perSender));
    }
    await Promise.all(clients.map((c) => c.terminate()));
  });
});
