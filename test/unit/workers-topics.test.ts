// Topic names across a link: a receiver decodes a topic's bytes once and recognises them after that, whatever the link
// later writes over the same memory; a sender encodes a topic once. Both stay bounded and exact.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EnvelopeWriter } from '../../src/cluster/envelope.js';
import { writeRecord } from '../../src/workers/carrier.js';
import { TopicBytes, TopicNames } from '../../src/workers/topic-names.js';

/** `topic` as UTF-8 at `at` of a fresh buffer with other bytes around it. */
function placed(topic: string, at = 5): { buf: Buffer; start: number; end: number } {
  const bytes = Buffer.from(topic, 'utf8');
  const buf = Buffer.alloc(at + bytes.length + 3, 0xee);
  bytes.copy(buf, at);
  return { buf, start: at, end: at + bytes.length };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('TopicNames (receiving side)', () => {
  it('decodes a topic once and recognises its bytes after that, wherever they are', () => {
    const names = new TopicNames();
    const decode = vi.spyOn(Buffer.prototype, 'toString');
    for (const at of [0, 5, 17]) {
      const { buf, start, end } = placed('/room-42', at);
      expect(names.name(buf, start, end)).toBe('/room-42');
    }
    expect(decode).toHaveBeenCalledTimes(1);
  });

  it('reads the bytes now there when the link reuses the memory of a topic it saw', () => {
    const names = new TopicNames();
    const buf = Buffer.alloc(32);
    for (const topic of ['/a', '/b', '/a', '/é', '/ab', '/a', '']) {
      const n = buf.write(topic, 3, 'utf8');
      expect(names.name(buf, 3, 3 + n)).toBe(topic);
    }
  });

  it('stays exact past its bound, for multi-byte, long and many topics', () => {
    const names = new TopicNames();
    const topics = ['/chat/日本語', '/emoji/😀', '/' + 'x'.repeat(300), ...Array.from({ length: 5000 }, (_, i) => `/r/${i}`)];
    for (let pass = 0; pass < 2; pass++) {
      for (const topic of topics) {
        const { buf, start, end } = placed(topic);
        expect(names.name(buf, start, end)).toBe(topic);
      }
    }
    expect(names.size).toBeLessThanOrEqual(4096);
  });
});

describe('TopicBytes (sending side)', () => {
  it('encodes a topic once and gives the same bytes after that', () => {
    const bytes = new TopicBytes();
    const first = bytes.of('/chat/日本語');
    expect(Buffer.from(first).toString('utf8')).toBe('/chat/日本語');
    expect(bytes.of('/chat/日本語')).toBe(first);
    expect(bytes.of('/other')).not.toBe(first);
  });

  it('stays exact past its bound', () => {
    const bytes = new TopicBytes();
    for (let i = 0; i < 5000; i++) expect(Buffer.from(bytes.of(`/r/${i}`)).toString()).toBe(`/r/${i}`);
    expect(Buffer.from(bytes.of('/r/1')).toString()).toBe('/r/1');
  });

  it('keeps topics in memory of its own, not in slices of the shared Buffer pool they would keep alive', () => {
    const bytes = new TopicBytes();
    for (const topic of ['/a', '/room/42', '/chat/日本語']) {
      const before = Buffer.allocUnsafe(8).buffer;
      const encoded = bytes.of(topic);
      const after = Buffer.allocUnsafe(8).buffer;
      expect(Buffer.from(encoded).toString()).toBe(topic);
      expect([encoded.buffer === before, encoded.buffer === after]).toEqual([false, false]);
    }
  });

  it('encodes a topic longer than 256 characters each time, remembering none: its memory stays bounded', () => {
    const bytes = new TopicBytes();
    const long = '/' + 'x'.repeat(4000);
    expect(Buffer.from(bytes.of(long)).toString()).toBe(long);
    expect(bytes.of(long)).not.toBe(bytes.of(long));
    expect(bytes.size).toBe(0);
    bytes.of('/' + 'x'.repeat(255));
    expect(bytes.size).toBe(1);
  });

  it('writes the same records as encoding the string each time (envelope and ring layout)', () => {
    const bytes = new TopicBytes();
    const payload = Uint8Array.from([0, 1, 2, 250, 255]);
    const byString = new EnvelopeWriter(new Uint8Array(8));
    const byBytes = new EnvelopeWriter(new Uint8Array(8));
    for (const topic of ['/a', '/chat/日本語', '/' + 'y'.repeat(100)]) {
      byString.add(topic, payload, true, 1);
      byBytes.addEncoded(bytes.of(topic), payload, true, 1);
    }
    expect(byBytes.take().equals(byString.take())).toBe(true);
    const ring = Buffer.alloc(64);
    const end = writeRecord(ring, 2, bytes.of('/é'), payload.buffer, false);
    expect(end).toBe(2 + 7 + 3 + 5);
    const once = new EnvelopeWriter(new Uint8Array(8));
    once.add('/é', payload, false, 0);
    expect(ring.subarray(2, end).equals(once.take().subarray(18))).toBe(true);
  });

  it('refuses a topic longer than a record can carry, as add() does', () => {
    const writer = new EnvelopeWriter(new Uint8Array(8));
    const long = new TopicBytes().of('t'.repeat(0x10000));
    expect(writer.addEncoded(long, new Uint8Array(1), true, 0)).toBe(false);
    expect(writer.count).toBe(0);
  });
});
