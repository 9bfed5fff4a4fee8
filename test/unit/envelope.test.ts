// The backplane envelope: binary-safe round trip of one or many records, header layout, and rejection of what it cannot read.
import { describe, expect, it } from 'vitest';
import {
  emptyRecord,
  encodeEnvelope,
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_VERSION,
  EnvelopeWriter,
  isEnvelope,
  isFrom,
  MAX_TOPIC_BYTES,
  readRecord,
  RECORD_HEADER_BYTES,
  sentAt,
} from '../../src/cluster/envelope.js';

const origin = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const other = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 9]);

interface Decoded {
  topic: string;
  payload: Buffer;
  isBinary: boolean;
}

/** Reads every record of an envelope, or throws on a malformed one. */
function records(envelope: Buffer): Decoded[] {
  expect(isEnvelope(envelope)).toBe(true);
  const out: Decoded[] = [];
  const view = emptyRecord();
  for (let at = ENVELOPE_HEADER_BYTES; at < envelope.length; ) {
    at = readRecord(envelope, at, view);
    if (at < 0) throw new Error('malformed record');
    out.push({
      topic: envelope.toString('utf8', view.topicStart, view.payloadStart),
      payload: envelope.subarray(view.payloadStart, view.payloadEnd),
      isBinary: view.isBinary,
    });
  }
  return out;
}

const arrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

describe('envelope', () => {
  it('carries every byte value of a binary payload untouched, with the binary flag', () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    const [record] = records(encodeEnvelope(origin, 1, 'relay', arrayBuffer(payload), true) as Buffer);
    expect(Buffer.compare(record?.payload ?? Buffer.alloc(0), payload)).toBe(0);
    expect(record?.isBinary).toBe(true);
    expect(record?.topic).toBe('relay');
  });

  it('carries text with multi-byte UTF-8 in payload and topic, flagged as text', () => {
    const [record] = records(encodeEnvelope(origin, 1, '/rooms/café-☕', new TextEncoder().encode('héllo 🌍'), false) as Buffer);
    expect(record).toEqual({ topic: '/rooms/café-☕', payload: Buffer.from('héllo 🌍'), isBinary: false });
  });

  it('keeps the origin time with sub-millisecond precision', () => {
    expect(sentAt(encodeEnvelope(origin, 1_764_000_000_000.125, 't', new Uint8Array(0), false) as Buffer)).toBe(1_764_000_000_000.125);
  });

  it('handles an empty payload', () => {
    const envelope = encodeEnvelope(origin, 0, 't', new Uint8Array(0), true) as Buffer;
    expect(envelope.length).toBe(ENVELOPE_HEADER_BYTES + RECORD_HEADER_BYTES + 1);
    expect(records(envelope)).toEqual([{ topic: 't', payload: Buffer.alloc(0), isBinary: true }]);
  });

  it('lays the header and a record out as documented', () => {
    const envelope = encodeEnvelope(origin, 1.5, 'ab', new Uint8Array([9]), true) as Buffer;
    expect(envelope[0]).toBe(ENVELOPE_VERSION);
    expect(envelope[1]).toBe(0);
    expect([...envelope.subarray(2, 10)]).toEqual([...origin]);
    expect(envelope.readDoubleBE(10)).toBe(1.5);
    expect(envelope[18]).toBe(1); // flags: binary
    expect(envelope.readUInt16BE(19)).toBe(2); // topic length
    expect(envelope.readUInt32BE(21)).toBe(1); // payload length
    expect(envelope.toString('latin1', 25, 27)).toBe('ab');
    expect(envelope[27]).toBe(9);
    expect(envelope.length).toBe(28);
  });

  it('batches many records in order, each with its own topic and text/binary flag, stamped with the first one’s time', () => {
    const writer = new EnvelopeWriter(origin);
    expect(writer.add('/a', Buffer.from('one'), false, 10)).toBe(true);
    expect(writer.add('/b', Uint8Array.from([0, 0xff]), true, 11)).toBe(true);
    expect(writer.add('/a', Buffer.from('three'), false, 12)).toBe(true);
    expect(writer.count).toBe(3);
    const size = writer.bytes;
    const envelope = writer.take();
    expect(envelope.length).toBe(size);
    expect(writer.bytes).toBe(0);
    expect(sentAt(envelope)).toBe(10);
    expect(records(envelope)).toEqual([
      { topic: '/a', payload: Buffer.from('one'), isBinary: false },
      { topic: '/b', payload: Buffer.from([0, 0xff]), isBinary: true },
      { topic: '/a', payload: Buffer.from('three'), isBinary: false },
    ]);
    expect(writer.count).toBe(0);
  });

  it('grows its buffer for a big turn and keeps every record intact', () => {
    const writer = new EnvelopeWriter(origin);
    const big = new Uint8Array(200 * 1024).fill(7);
    writer.add('t', new Uint8Array([1]), true, 0);
    writer.add('t', big, true, 0);
    writer.add('t', new Uint8Array([2]), true, 0);
    const first = records(writer.take());
    expect(first.map((r) => r.payload.length)).toEqual([1, big.length, 1]);
    expect(first[1]?.payload.every((b) => b === 7)).toBe(true);
    writer.add('t', new Uint8Array([3]), true, 0);
    expect(records(writer.take())).toEqual([{ topic: 't', payload: Buffer.from([3]), isBinary: true }]);
  });

  it('copies the payload, so the caller may reuse its buffer at once, and take() hands out an envelope that later turns do not touch', () => {
    const writer = new EnvelopeWriter(origin);
    const source = new Uint8Array([1, 2, 3]);
    writer.add('t', source.buffer, true, 0);
    source.fill(0);
    const envelope = writer.take();
    writer.add('t', new Uint8Array([9, 9, 9]), true, 0);
    writer.take();
    expect([...(records(envelope)[0]?.payload ?? [])]).toEqual([1, 2, 3]);
  });

  it('tells its own envelopes from another instance’s', () => {
    const envelope = encodeEnvelope(origin, 0, 't', new Uint8Array(1), false) as Buffer;
    expect(isFrom(envelope, origin)).toBe(true);
    expect(isFrom(envelope, other)).toBe(false);
  });

  it('refuses a topic longer than a record can describe, and adds nothing for it', () => {
    const writer = new EnvelopeWriter(origin);
    expect(writer.add('x'.repeat(MAX_TOPIC_BYTES + 1), new Uint8Array(1), false, 0)).toBe(false);
    expect(writer.count).toBe(0);
    expect(writer.bytes).toBe(0);
    expect(encodeEnvelope(origin, 0, 'x'.repeat(MAX_TOPIC_BYTES), new Uint8Array(1), false)).not.toBeNull();
  });

  it('rejects a truncated header, another version, and a record running past the end', () => {
    const good = encodeEnvelope(origin, 0, 'topic', new Uint8Array([1, 2]), false) as Buffer;
    expect(isEnvelope(good.subarray(0, ENVELOPE_HEADER_BYTES - 1))).toBe(false);
    expect(isEnvelope(Buffer.concat([Buffer.from([ENVELOPE_VERSION + 1]), good.subarray(1)]))).toBe(false);
    expect(isEnvelope(Buffer.alloc(0))).toBe(false);
    const view = emptyRecord();
    expect(readRecord(good.subarray(0, good.length - 1), ENVELOPE_HEADER_BYTES, view)).toBe(-1);
    expect(readRecord(good.subarray(0, ENVELOPE_HEADER_BYTES + 3), ENVELOPE_HEADER_BYTES, view)).toBe(-1);
    expect(readRecord(good, ENVELOPE_HEADER_BYTES, view)).toBe(good.length);
  });
});
