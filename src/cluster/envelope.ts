// The backplane's wire format. One Redis message (an envelope) carries the client messages one instance relayed in one
// event-loop turn: a fixed header, then records, each a small header, the topic and the payload bytes untouched.
// Pure, no I/O. Big-endian throughout.
//
//   envelope header                        record (repeated to the end of the envelope)
//   0   1  version (ENVELOPE_VERSION)      0   1  flags: bit 0 = binary frame (else text)
//   1   1  reserved, 0                     1   2  topic length in bytes (uint16)
//   2   8  origin instance id              3   4  payload length in bytes (uint32)
//   10  8  origin publish time of the      7   n  topic, UTF-8
//          first record: float64 ms since  7+n m  payload, exactly as the client sent it
//          the Unix epoch (sub-ms precision)

export const ENVELOPE_VERSION = 1;
/** Bytes of an instance id. */
export const ORIGIN_BYTES = 8;
export const ENVELOPE_HEADER_BYTES = 18;
export const RECORD_HEADER_BYTES = 7;
/** Longest topic (bytes) a record can carry. */
export const MAX_TOPIC_BYTES = 0xffff;

const FLAG_BINARY = 1;
/** Bounds of the buffer a new envelope starts in: twice the last envelope's size, within these. */
const START_MIN_BYTES = 1024;
const START_MAX_BYTES = 1024 * 1024;

/**
 * Collects records into one envelope. Each payload is copied exactly once, at add() (the caller's ArrayBuffer may die
 * right after), straight into the buffer take() hands out; the next envelope gets a new buffer sized from the last one,
 * so adding normally allocates nothing and a busy turn rarely has to grow (and copy) its buffer.
 */
export class EnvelopeWriter {
  readonly #origin: Uint8Array;
  #scratch = Buffer.allocUnsafe(START_MIN_BYTES);
  #used = 0;
  #count = 0;

  /** @param origin ORIGIN_BYTES bytes naming this instance */
  constructor(origin: Uint8Array) {
    if (origin.length !== ORIGIN_BYTES) throw new Error(`origin must be ${ORIGIN_BYTES} bytes`);
    this.#origin = origin;
  }

  /** Records added since the last take(). */
  get count(): number {
    return this.#count;
  }

  /** Size of the envelope take() would return now; 0 when empty. */
  get bytes(): number {
    return this.#used;
  }

  /**
   * Appends one message. @param nowMs publish time, ms since the Unix epoch; the first record's time stands for the envelope
   * @returns false (and adds nothing) when the topic is longer than MAX_TOPIC_BYTES
   */
  add(topic: string, payload: ArrayBuffer | Uint8Array, isBinary: boolean, nowMs: number): boolean {
    const topicBytes = Buffer.byteLength(topic, 'utf8');
    if (topicBytes > MAX_TOPIC_BYTES) return false;
    const at = this.#open(topicBytes, payload.byteLength, isBinary, nowMs);
    this.#scratch.write(topic, at, topicBytes, 'utf8');
    this.#close(at + topicBytes, payload);
    return true;
  }

  /**
   * add() for a topic already encoded as UTF-8 (a sender that keeps its topics' bytes: no measuring or encoding per
   * message). @returns false (and adds nothing) when the topic is longer than MAX_TOPIC_BYTES
   */
  addEncoded(topic: Uint8Array, payload: ArrayBuffer | Uint8Array, isBinary: boolean, nowMs: number): boolean {
    const topicBytes = topic.length;
    if (topicBytes > MAX_TOPIC_BYTES) return false;
    const at = this.#open(topicBytes, payload.byteLength, isBinary, nowMs);
    copyBytes(this.#scratch, at, topic);
    this.#close(at + topicBytes, payload);
    return true;
  }

  /** Makes room for one record, writes its header (and the envelope's, for the first) and returns where its topic goes. */
  #open(topicBytes: number, payloadBytes: number, isBinary: boolean, nowMs: number): number {
    if (this.#count === 0) {
      this.#reserve(ENVELOPE_HEADER_BYTES + RECORD_HEADER_BYTES + topicBytes + payloadBytes);
      const out = this.#scratch;
      out[0] = ENVELOPE_VERSION;
      out[1] = 0;
      out.set(this.#origin, 2);
      out.writeDoubleBE(nowMs, 10);
      this.#used = ENVELOPE_HEADER_BYTES;
    } else {
      this.#reserve(this.#used + RECORD_HEADER_BYTES + topicBytes + payloadBytes);
    }
    const out = this.#scratch;
    const at = this.#used;
    out[at] = isBinary ? FLAG_BINARY : 0;
    out.writeUInt16BE(topicBytes, at + 1);
    out.writeUInt32BE(payloadBytes, at + 3);
    return at + RECORD_HEADER_BYTES;
  }

  /** Copies the payload after the topic and counts the record. */
  #close(at: number, payload: ArrayBuffer | Uint8Array): void {
    this.#scratch.set(payload instanceof Uint8Array ? payload : new Uint8Array(payload), at);
    this.#used = at + payload.byteLength;
    this.#count++;
  }

  /** Returns the envelope (the writer never touches it again) and starts an empty one. Call only when count > 0. */
  take(): Buffer {
    const envelope = this.#scratch.subarray(0, this.#used);
    this.#scratch = Buffer.allocUnsafe(Math.min(START_MAX_BYTES, Math.max(START_MIN_BYTES, this.#used * 2)));
    this.#used = 0;
    this.#count = 0;
    return envelope;
  }

  #reserve(total: number): void {
    if (total <= this.#scratch.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(total, this.#scratch.length * 2));
    this.#scratch.copy(bigger, 0, 0, this.#used);
    this.#scratch = bigger;
  }
}

/**
 * Copies `bytes` into `out` at `at`. A topic is a few bytes: a loop costs less than set()'s call for those.
 * @returns the offset after them
 */
export function copyBytes(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 32) out.set(bytes, at);
  else for (let i = 0; i < n; i++) out[at + i] = bytes[i] as number;
  return at + n;
}

/** Encodes a single message as a whole envelope (tests, tools). */
export function encodeEnvelope(origin: Uint8Array, sentAtMs: number, topic: string, payload: ArrayBuffer | Uint8Array, isBinary: boolean): Buffer | null {
  const writer = new EnvelopeWriter(origin);
  return writer.add(topic, payload, isBinary, sentAtMs) ? writer.take() : null;
}

/** True when `envelope` is of a version this code reads and long enough to hold its header. */
export function isEnvelope(envelope: Buffer): boolean {
  return envelope.length >= ENVELOPE_HEADER_BYTES && envelope[0] === ENVELOPE_VERSION;
}

/** The origin publish time of an envelope that passed isEnvelope(). */
export function sentAt(envelope: Buffer): number {
  return envelope.readDoubleBE(10);
}

/** True when `envelope` was sent by the instance whose id is `origin`. */
export function isFrom(envelope: Uint8Array, origin: Uint8Array): boolean {
  for (let i = 0; i < ORIGIN_BYTES; i++) if (envelope[2 + i] !== origin[i]) return false;
  return true;
}

/** One record's position inside its envelope; filled in place by readRecord so the receive path allocates nothing for it. */
export interface RecordView {
  isBinary: boolean;
  topicStart: number;
  /** The topic ends where the payload starts. */
  payloadStart: number;
  payloadEnd: number;
}

/** A fresh view to pass to readRecord. */
export function emptyRecord(): RecordView {
  return { isBinary: false, topicStart: 0, payloadStart: 0, payloadEnd: 0 };
}

/**
 * Reads the record at `offset` into `into`.
 * @returns the offset of the next record (envelope.length after the last), or -1 when the record runs past the end
 */
export function readRecord(envelope: Buffer, offset: number, into: RecordView): number {
  if (offset + RECORD_HEADER_BYTES > envelope.length) return -1;
  const topicStart = offset + RECORD_HEADER_BYTES;
  const payloadStart = topicStart + envelope.readUInt16BE(offset + 1);
  const payloadEnd = payloadStart + envelope.readUInt32BE(offset + 3);
  if (payloadEnd > envelope.length) return -1;
  into.isBinary = ((envelope[offset] ?? 0) & FLAG_BINARY) !== 0;
  into.topicStart = topicStart;
  into.payloadStart = payloadStart;
  into.payloadEnd = payloadEnd;
  return payloadEnd;
}
