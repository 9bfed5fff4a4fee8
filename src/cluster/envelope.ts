// The backplane's wire format: a fixed binary header, the topic, then the client's payload bytes untouched. Pure, no I/O.
//
//   offset  size  field
//   0       1     version (ENVELOPE_VERSION)
//   1       1     flags: bit 0 = binary frame (else text)
//   2       8     origin instance id
//   10      8     origin publish time, float64 big-endian, milliseconds since the Unix epoch (sub-ms precision)
//   18      2     topic length in bytes, uint16 big-endian
//   20      n     topic, UTF-8
//   20+n    …     payload, exactly as the client sent it

export const ENVELOPE_VERSION = 1;
/** Bytes of an instance id. */
export const ORIGIN_BYTES = 8;
/** Bytes before the topic. */
export const HEADER_BYTES = 20;
/** Longest topic (bytes) the header can carry. */
export const MAX_TOPIC_BYTES = 0xffff;

const FLAG_BINARY = 1;

/**
 * Encodes one message into a fresh Buffer, copying the payload once (the caller's ArrayBuffer may die after this returns).
 * @param origin ORIGIN_BYTES bytes naming the sending instance
 * @param sentAtMs origin publish time, ms since the Unix epoch
 * @returns null when the topic is longer than MAX_TOPIC_BYTES
 */
export function encodeEnvelope(origin: Uint8Array, sentAtMs: number, topic: string, payload: ArrayBuffer | Uint8Array, isBinary: boolean): Buffer | null {
  const topicBytes = Buffer.byteLength(topic, 'utf8');
  if (topicBytes > MAX_TOPIC_BYTES) return null;
  const payloadStart = HEADER_BYTES + topicBytes;
  const out = Buffer.allocUnsafe(payloadStart + payload.byteLength);
  out[0] = ENVELOPE_VERSION;
  out[1] = isBinary ? FLAG_BINARY : 0;
  out.set(origin, 2);
  out.writeDoubleBE(sentAtMs, 10);
  out.writeUInt16BE(topicBytes, 18);
  out.write(topic, HEADER_BYTES, topicBytes, 'utf8');
  out.set(payload instanceof Uint8Array ? payload : new Uint8Array(payload), payloadStart);
  return out;
}

/** A decoded header; filled in place by decodeEnvelope so the receive path allocates nothing for it. */
export interface EnvelopeHeader {
  isBinary: boolean;
  sentAtMs: number;
  /** First byte of the topic; it ends where the payload starts. */
  topicStart: number;
  payloadStart: number;
}

/** A fresh header to pass to decodeEnvelope. */
export function emptyHeader(): EnvelopeHeader {
  return { isBinary: false, sentAtMs: 0, topicStart: HEADER_BYTES, payloadStart: HEADER_BYTES };
}

/** Reads the header of `envelope` into `into`; false when the envelope is truncated or of another version. */
export function decodeEnvelope(envelope: Uint8Array, into: EnvelopeHeader): boolean {
  if (envelope.length < HEADER_BYTES || envelope[0] !== ENVELOPE_VERSION) return false;
  const view = Buffer.isBuffer(envelope) ? envelope : Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  const payloadStart = HEADER_BYTES + view.readUInt16BE(18);
  if (payloadStart > view.length) return false;
  into.isBinary = ((view[1] ?? 0) & FLAG_BINARY) !== 0;
  into.sentAtMs = view.readDoubleBE(10);
  into.topicStart = HEADER_BYTES;
  into.payloadStart = payloadStart;
  return true;
}

/** True when `envelope` was sent by the instance whose id is `origin`. Call after decodeEnvelope succeeded. */
export function isFrom(envelope: Uint8Array, origin: Uint8Array): boolean {
  for (let i = 0; i < ORIGIN_BYTES; i++) if (envelope[2 + i] !== origin[i]) return false;
  return true;
}
