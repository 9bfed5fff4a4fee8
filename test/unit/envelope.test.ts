// The backplane envelope: binary-safe round trip, header layout, and rejection of what it cannot read.
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, emptyHeader, encodeEnvelope, ENVELOPE_VERSION, HEADER_BYTES, isFrom, MAX_TOPIC_BYTES } from '../../src/cluster/envelope.js';

const origin = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const other = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 9]);

function roundTrip(topic: string, payload: Uint8Array, isBinary: boolean, sentAtMs = 1_700_000_000_123.456) {
  const ab = payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength) as ArrayBuffer;
  const envelope = encodeEnvelope(origin, sentAtMs, topic, ab, isBinary);
  if (envelope === null) throw new Error('not encoded');
  const header = emptyHeader();
  expect(decodeEnvelope(envelope, header)).toBe(true);
  return {
    envelope,
    header,
    topic: envelope.toString('utf8', header.topicStart, header.payloadStart),
    payload: envelope.subarray(header.payloadStart),
  };
}

describe('envelope', () => {
  it('carries every byte value of a binary payload untouched, with the binary flag', () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    const out = roundTrip('relay', payload, true);
    expect(Buffer.compare(out.payload, payload)).toBe(0);
    expect(out.header.isBinary).toBe(true);
    expect(out.topic).toBe('relay');
  });

  it('carries text with multi-byte UTF-8 in payload and topic, flagged as text', () => {
    const out = roundTrip('/rooms/café-☕', new TextEncoder().encode('héllo 🌍'), false);
    expect(out.topic).toBe('/rooms/café-☕');
    expect(out.payload.toString('utf8')).toBe('héllo 🌍');
    expect(out.header.isBinary).toBe(false);
  });

  it('keeps the origin time with sub-millisecond precision', () => {
    expect(roundTrip('t', new Uint8Array(0), false, 1_764_000_000_000.125).header.sentAtMs).toBe(1_764_000_000_000.125);
  });

  it('handles an empty payload', () => {
    const out = roundTrip('t', new Uint8Array(0), true);
    expect(out.payload.length).toBe(0);
    expect(out.envelope.length).toBe(HEADER_BYTES + 1);
  });

  it('lays the header out as documented: version, flags, origin, time, topic length', () => {
    const envelope = encodeEnvelope(origin, 1.5, 'ab', new Uint8Array([9]), true) as Buffer;
    expect(envelope[0]).toBe(ENVELOPE_VERSION);
    expect(envelope[1]).toBe(1);
    expect([...envelope.subarray(2, 10)]).toEqual([...origin]);
    expect(envelope.readDoubleBE(10)).toBe(1.5);
    expect(envelope.readUInt16BE(18)).toBe(2);
    expect(envelope.toString('latin1', 20, 22)).toBe('ab');
    expect(envelope[22]).toBe(9);
  });

  it('copies the payload, so the caller may reuse its buffer at once', () => {
    const source = new Uint8Array([1, 2, 3]);
    const envelope = encodeEnvelope(origin, 0, 't', source.buffer, true) as Buffer;
    source.fill(0);
    expect([...envelope.subarray(HEADER_BYTES + 1)]).toEqual([1, 2, 3]);
  });

  it('tells its own envelopes from another instance’s', () => {
    const envelope = encodeEnvelope(origin, 0, 't', new Uint8Array(1), false) as Buffer;
    expect(isFrom(envelope, origin)).toBe(true);
    expect(isFrom(envelope, other)).toBe(false);
  });

  it('refuses a topic longer than the header can describe', () => {
    expect(encodeEnvelope(origin, 0, 'x'.repeat(MAX_TOPIC_BYTES + 1), new Uint8Array(1), false)).toBeNull();
    expect(encodeEnvelope(origin, 0, 'x'.repeat(MAX_TOPIC_BYTES), new Uint8Array(1), false)).not.toBeNull();
  });

  it('rejects truncated envelopes, another version, and a topic running past the end', () => {
    const good = encodeEnvelope(origin, 0, 'topic', new Uint8Array([1]), false) as Buffer;
    const header = emptyHeader();
    expect(decodeEnvelope(good.subarray(0, HEADER_BYTES - 1), header)).toBe(false);
    expect(decodeEnvelope(Buffer.concat([Buffer.from([ENVELOPE_VERSION + 1]), good.subarray(1)]), header)).toBe(false);
    expect(decodeEnvelope(good.subarray(0, HEADER_BYTES + 3), header)).toBe(false);
    expect(decodeEnvelope(Buffer.alloc(0), header)).toBe(false);
  });

  it('decodes a plain Uint8Array view at an offset, not only Buffers', () => {
    const envelope = encodeEnvelope(origin, 2, 'tp', new Uint8Array([7, 8]), true) as Buffer;
    const backing = new Uint8Array(envelope.length + 5);
    backing.set(envelope, 5);
    const header = emptyHeader();
    expect(decodeEnvelope(backing.subarray(5), header)).toBe(true);
    expect(header).toEqual({ isBinary: true, sentAtMs: 2, topicStart: HEADER_BYTES, payloadStart: HEADER_BYTES + 2 });
  });
});
