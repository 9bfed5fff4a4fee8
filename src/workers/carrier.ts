// The cross-thread carrier: one-way FIFO links between the relay's threads, each carrying the client messages one
// thread received to one other thread as the backplane's records (src/cluster/envelope.ts: flags, topic, payload bytes
// untouched). What both implementations share lives here: the contract, the end types, and the record write/read loop.
// port-carrier.ts sends one transferred buffer per event-loop turn over a MessagePort; ring-carrier.ts writes into a
// SharedArrayBuffer ring. bench/README.md ("Carrier") has the numbers that tell them apart.
import type { MessagePort, Transferable } from 'node:worker_threads';
import { copyBytes, readRecord, RECORD_HEADER_BYTES, type RecordView } from '../cluster/envelope.js';
import type { TopicNames } from './topic-names.js';

/** One end of a MessagePort link: the port travels to its thread in the transfer list, the ack counter is shared. */
export interface PortLinkEnd {
  readonly kind: 'port';
  readonly port: MessagePort;
  /** One Uint32: envelope bytes the receiver has finished with (mod 2^32), so the sender knows its backlog. */
  readonly acked: SharedArrayBuffer;
}

/** One end of a ring link: both ends are the same shared memory (control words, then the byte ring). */
export interface RingLinkEnd {
  readonly kind: 'ring';
  readonly shared: SharedArrayBuffer;
}

/** What one thread creates for a link and hands to the thread that uses that end (workerData or postMessage). */
export type LinkEnd = PortLinkEnd | RingLinkEnd;

/** The transfer list to send `end` to another thread with (a MessagePort must be transferred, shared memory need not). */
export function transferList(end: LinkEnd): Transferable[] {
  return end.kind === 'port' ? [end.port] : [];
}

/** Receives one message. `message` is valid only during the call (it may be a view into memory the link reuses). */
export type Deliver = (topic: string, message: Uint8Array, isBinary: boolean) => void;

export interface SenderOptions {
  /**
   * Bytes sent and not yet read by the receiving thread (records: message + topic + 7 header bytes) beyond which
   * send() drops. Bounds what a slow or stalled receiving thread can cost the sending one.
   */
  readonly maxPendingBytes: number;
}

export interface ReceiverOptions {
  /** Called when `deliver` throws; the link counts it and goes on with the next message. Default: nothing. */
  readonly onError?: (err: unknown) => void;
}

/** Sending side, in the producing thread. */
export interface LinkSender {
  /**
   * Hot path, once per message: copies topic and message now (a uWS ArrayBuffer dies when its handler returns);
   * the link hands this turn's messages over once, from setImmediate.
   * @returns false when the message was dropped: over maxPendingBytes, larger than the link can ever hold, a topic
   *   over 65,535 bytes, or the sender is closed
   */
  send(topic: string, message: ArrayBuffer | Uint8Array, isBinary: boolean): boolean;
  /** Messages send() dropped so far. */
  readonly dropped: number;
  /** Bytes sent and not yet read by the receiver (point in time; for a backlog gauge). */
  readonly pendingBytes: number;
  /** Hands over what was accepted so far, then stops; later sends drop. Idempotent. */
  close(): void;
}

/** Receiving side: calls deliver for every message, in order, on this thread's event loop. Never keeps the thread alive. */
export interface LinkReceiver {
  /** Messages delivered so far. */
  readonly delivered: number;
  /** Deliveries whose `deliver` threw. */
  readonly failed: number;
  /** Stops delivering; what the sender hands over later is discarded. Idempotent. */
  close(): void;
}

/** Options for a new link. */
export interface LinkOptions {
  /** Ring carrier: bytes of the byte ring (the most a link holds in shared memory). Ignored by the port carrier. */
  readonly ringBytes?: number;
}

/** One carrier implementation: create a link in any thread, open each end in the thread it was handed to. */
export interface Carrier<End extends LinkEnd = LinkEnd> {
  readonly kind: End['kind'];
  createLink(opts?: LinkOptions): { readonly sender: End; readonly receiver: End };
  openSender(end: End, opts: SenderOptions): LinkSender;
  openReceiver(end: End, deliver: Deliver, opts?: ReceiverOptions): LinkReceiver;
}

/** Bytes a message takes as a record. */
export function recordBytes(topicBytes: number, payloadBytes: number): number {
  return RECORD_HEADER_BYTES + topicBytes + payloadBytes;
}

/**
 * Writes one record at `at` in the envelope's record layout (flags, uint16 topic length, uint32 payload length, topic,
 * payload), for carriers that keep records in memory of their own rather than in an EnvelopeWriter's envelope.
 * @param topic the topic as UTF-8 (TopicBytes), at most MAX_TOPIC_BYTES
 * @returns the offset after the record
 */
export function writeRecord(out: Buffer, at: number, topic: Uint8Array, payload: ArrayBuffer | Uint8Array, isBinary: boolean): number {
  out[at] = isBinary ? 1 : 0;
  out.writeUInt16BE(topic.length, at + 1);
  out.writeUInt32BE(payload.byteLength, at + 3);
  at = copyBytes(out, at + RECORD_HEADER_BYTES, topic);
  out.set(payload instanceof Uint8Array ? payload : new Uint8Array(payload), at);
  return at + payload.byteLength;
}

/** Delivery counters a receiver keeps; deliverRecord updates them. */
export interface DeliveryCounts {
  delivered: number;
  failed: number;
}

/** What a receiver keeps to read records with, allocated once: the record view, its counters, its topic names. */
export interface ReadState {
  readonly record: RecordView;
  readonly counts: DeliveryCounts;
  readonly names: TopicNames;
}

/**
 * Reads the record at `offset` of `buf` and hands it to `deliver`; a throw from `deliver` is counted and reported,
 * never propagated (the next record must still arrive). Per record: the topic from `state.names` (no decoding for a
 * topic seen before) and one plain view of the payload.
 * @returns the offset after the record
 * @throws Error when the record runs past `end`: the link's memory is corrupt, which only a bug can cause
 */
export function deliverRecord(buf: Buffer, offset: number, end: number, state: ReadState, deliver: Deliver, onError: ((err: unknown) => void) | undefined): number {
  const record = state.record;
  const next = readRecord(buf, offset, record);
  if (next < 0 || next > end) throw new Error(`carrier link corrupt: record at ${offset} runs past ${end}`);
  const counts = state.counts;
  try {
    const topic = state.names.name(buf, record.topicStart, record.payloadStart);
    // A plain Uint8Array view costs less to make than a Buffer's subarray.
    deliver(topic, new Uint8Array(buf.buffer, buf.byteOffset + record.payloadStart, record.payloadEnd - record.payloadStart), record.isBinary);
    counts.delivered++;
  } catch (err) {
    counts.failed++;
    onError?.(err);
  }
  return next;
}
