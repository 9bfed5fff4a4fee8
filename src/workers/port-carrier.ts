// The MessagePort carrier: per event-loop turn, the sender packs the turn's messages into one backplane envelope and
// posts it with its ArrayBuffer transferred (the receiver reads the very bytes the sender wrote). A shared counter of
// the bytes the receiver has finished with tells the sender its backlog, which is what bounds it.
import { MessageChannel } from 'node:worker_threads';
import { emptyRecord, ENVELOPE_HEADER_BYTES, EnvelopeWriter, ORIGIN_BYTES, RECORD_HEADER_BYTES } from '../cluster/envelope.js';
import type { Carrier, Deliver, LinkReceiver, LinkSender, PortLinkEnd, ReadState, ReceiverOptions, SenderOptions } from './carrier.js';
import { deliverRecord } from './carrier.js';
import { TopicBytes, TopicNames } from './topic-names.js';

/** The envelope's origin field: links are point to point, so it names nobody. */
const NO_ORIGIN = new Uint8Array(ORIGIN_BYTES);

function createLink(): { sender: PortLinkEnd; receiver: PortLinkEnd } {
  const { port1, port2 } = new MessageChannel();
  const acked = new SharedArrayBuffer(4);
  return { sender: { kind: 'port', port: port1, acked }, receiver: { kind: 'port', port: port2, acked } };
}

/**
 * The envelope as a view whose whole ArrayBuffer it owns, so that transferring it moves no one else's bytes. Buffers
 * under half of Buffer.poolSize share a pool ArrayBuffer (which Node refuses to transfer): those small ones are copied.
 */
function ownedView(envelope: Buffer): Uint8Array {
  if (envelope.byteOffset === 0 && envelope.buffer.byteLength > Buffer.poolSize) return envelope;
  return new Uint8Array(envelope);
}

class PortSender implements LinkSender {
  readonly #port: PortLinkEnd['port'];
  readonly #acked: Uint32Array;
  readonly #maxPendingBytes: number;
  readonly #writer = new EnvelopeWriter(NO_ORIGIN);
  readonly #topics = new TopicBytes();
  /** Envelope bytes posted so far, mod 2^32 (compared with the receiver's count of the same). */
  #posted = 0;
  /** Posted and not acknowledged when last read; only ever too high, so reading it lazily never lets the bound slip. */
  #unacked = 0;
  #dropped = 0;
  #scheduled = false;
  #closed = false;

  constructor(end: PortLinkEnd, opts: SenderOptions) {
    this.#port = end.port;
    this.#acked = new Uint32Array(end.acked);
    this.#maxPendingBytes = opts.maxPendingBytes;
  }

  get dropped(): number {
    return this.#dropped;
  }

  get pendingBytes(): number {
    return this.#writer.bytes + this.#readUnacked();
  }

  send(topic: string, message: ArrayBuffer | Uint8Array, isBinary: boolean): boolean {
    if (this.#closed) {
      this.#dropped++;
      return false;
    }
    const writer = this.#writer;
    const encoded = this.#topics.of(topic);
    const bytes = RECORD_HEADER_BYTES + encoded.length + message.byteLength;
    const queued = writer.bytes + bytes;
    if (queued + this.#unacked > this.#maxPendingBytes && queued + this.#readUnacked() > this.#maxPendingBytes) {
      this.#dropped++;
      return false;
    }
    // The envelope's publish time is read once per envelope, for its first record.
    if (!writer.addEncoded(encoded, message, isBinary, writer.count === 0 ? Date.now() : 0)) {
      this.#dropped++;
      return false;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#port.close();
  }

  #readUnacked(): number {
    this.#unacked = (this.#posted - Atomics.load(this.#acked, 0)) >>> 0;
    return this.#unacked;
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#closed || this.#writer.count === 0) return;
    const envelope = ownedView(this.#writer.take());
    const bytes = envelope.byteLength; // read before the transfer detaches it
    this.#port.postMessage(envelope, [envelope.buffer as ArrayBuffer]);
    this.#posted = (this.#posted + bytes) >>> 0;
    this.#unacked += bytes;
  };
}

class PortReceiver implements LinkReceiver {
  readonly #port: PortLinkEnd['port'];
  readonly #acked: Uint32Array;
  readonly #deliver: Deliver;
  readonly #onError: ((err: unknown) => void) | undefined;
  readonly #read: ReadState = { record: emptyRecord(), counts: { delivered: 0, failed: 0 }, names: new TopicNames() };
  #closed = false;

  constructor(end: PortLinkEnd, deliver: Deliver, opts: ReceiverOptions) {
    this.#port = end.port;
    this.#acked = new Uint32Array(end.acked);
    this.#deliver = deliver;
    this.#onError = opts.onError;
    this.#port.on('message', this.#receive);
    // A listening port keeps its thread alive; the link must not (the thread lives as long as its uWS app does).
    this.#port.unref();
  }

  get delivered(): number {
    return this.#read.counts.delivered;
  }

  get failed(): number {
    return this.#read.counts.failed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#port.off('message', this.#receive);
    this.#port.close();
  }

  readonly #receive = (data: Uint8Array): void => {
    if (this.#closed) return;
    const envelope = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const end = envelope.length;
    for (let at = ENVELOPE_HEADER_BYTES; at < end; ) {
      at = deliverRecord(envelope, at, end, this.#read, this.#deliver, this.#onError);
    }
    Atomics.add(this.#acked, 0, end);
  };
}

/** The MessagePort carrier. */
export const portCarrier: Carrier<PortLinkEnd> = {
  kind: 'port',
  createLink,
  openSender: (end, opts) => new PortSender(end, opts),
  openReceiver: (end, deliver, opts = {}) => new PortReceiver(end, deliver, opts),
};
