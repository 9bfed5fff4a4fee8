// The SharedArrayBuffer carrier: a single-producer, single-consumer byte ring per link. send() appends the record to
// a private staging buffer; once per event-loop turn the producer copies the staged records into the ring in one
// piece, publishes its tail and, if the consumer sleeps, wakes it. The consumer waits with Atomics.waitAsync, which
// holds no handle, so a link never keeps a thread alive. When the ring is full, records stay staged (bounded by
// maxPendingBytes) until the consumer frees space.
//
// Why stage: V8 copies into shared memory with relaxed atomic stores, a runtime call per copy (about 0.1 µs) that
// moves words only when source and target are equally aligned and bytes otherwise (16 KiB: 0.6 µs aligned, 3.6 µs
// not; a plain copy takes 0.12 µs). One aligned copy per turn costs less than one copy per message into the ring.
//
// Shared memory (Int32 words; head and tail sit on separate cache lines):
//   word 0   tail: offset where the producer writes next, published with Atomics.store after the bytes are written
//   word 1   tail sequence: bumped (and notified) after a publish while the consumer waits on it
//   word 2   1 while the consumer waits (or is about to) for the tail sequence
//   word 16  head: offset where the consumer reads next, stored when it has finished with the bytes before it
//   word 17  head sequence: bumped (and notified) after the consumer frees space while the producer waits on it
//   word 18  1 while the producer waits (or is about to) for the head sequence
//   byte 128 on: the ring. head === tail means empty; the producer never fills the last byte, so full never looks empty.
//   A record never wraps: where the next one does not fit before the end, the producer writes WRAP and goes on at 0.
//   Up to 7 PAD bytes before a copied run of records give it the same alignment as its source (the word-wise copy).
import { emptyRecord, MAX_TOPIC_BYTES, RECORD_HEADER_BYTES } from '../cluster/envelope.js';
import type { Carrier, Deliver, LinkOptions, LinkReceiver, LinkSender, ReadState, ReceiverOptions, RingLinkEnd, SenderOptions } from './carrier.js';
import { deliverRecord, recordBytes, writeRecord } from './carrier.js';
import { TopicBytes, TopicNames } from './topic-names.js';

const TAIL = 0;
const TAIL_SEQ = 1;
const CONSUMER_WAITING = 2;
const HEAD = 16;
const HEAD_SEQ = 17;
const PRODUCER_WAITING = 18;
const CONTROL_BYTES = 128;
/** In place of a record's flags byte (0 or 1): the rest of the ring is unused, the next record is at offset 0. */
const WRAP = 0xff;
/** Fills the bytes before a run of records that aligns it with its source. */
const PAD = 0xfe;
/**
 * Staging buffer: starts at this size and grows by doubling; once empty, one over SHRINK_BYTES and over 4 times what
 * the last flush moved shrinks to twice that (a burst of large messages every turn keeps its buffer).
 */
const STAGE_START_BYTES = 64 * 1024;
const STAGE_SHRINK_BYTES = 1024 * 1024;
/** Staged bytes at which send() already copies them into the ring. */
const MOVE_AT_BYTES = 64 * 1024;
/** Most a receiver delivers in one event-loop turn, in record bytes. */
const DRAIN_BUDGET_BYTES = 1024 * 1024;
/**
 * A sleeping side looks again after this long even without a wake-up. The wake-up protocol needs none of it; it bounds
 * what a lost one (a bug here or below) could cost. V8 times waitAsync with an unreferenced timer: it holds no thread.
 */
const RECHECK_MS = 100;

/** Atomics.waitAsync (ES2024; Node 20 has it), typed here because the project compiles against the ES2022 library. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
  }
).waitAsync;

/** Default bytes of a link's ring: 4 MiB. */
export const DEFAULT_RING_BYTES = 4 * 1024 * 1024;
const MIN_RING_BYTES = 4096;
/** A timer that never fires, only keeps the thread alive while records wait for space. */
const KEEP_ALIVE_MS = 2 ** 31 - 1;
const noop = (): void => {};
const MAX_RING_BYTES = 1024 * 1024 * 1024;

/** @throws RangeError when ringBytes is not an integer in [4 KiB, 1 GiB] */
function createLink(opts: LinkOptions = {}): { sender: RingLinkEnd; receiver: RingLinkEnd } {
  const ringBytes = opts.ringBytes ?? DEFAULT_RING_BYTES;
  if (!Number.isInteger(ringBytes) || ringBytes < MIN_RING_BYTES || ringBytes > MAX_RING_BYTES) {
    throw new RangeError(`ringBytes must be an integer from ${MIN_RING_BYTES} to ${MAX_RING_BYTES}, got ${ringBytes}`);
  }
  const shared = new SharedArrayBuffer(CONTROL_BYTES + ringBytes);
  return { sender: { kind: 'ring', shared }, receiver: { kind: 'ring', shared } };
}

/** Bytes used in a ring of `capacity` from head to tail. */
function used(head: number, tail: number, capacity: number): number {
  return tail >= head ? tail - head : tail - head + capacity;
}

class RingSender implements LinkSender {
  readonly #ctl: Int32Array;
  readonly #ring: Buffer;
  readonly #capacity: number;
  readonly #maxPendingBytes: number;
  /** Largest record that can ever be written: under half the ring, so that it fits an empty ring wherever the tail is. */
  readonly #maxRecord: number;
  readonly #topics = new TopicBytes();
  /** Where the next record goes in the ring; published to the consumer at flush. */
  #tail: number;
  #published: number;
  /** The consumer's head when last read: only ever behind the real one, so trusting it never overwrites unread bytes. */
  #head: number;
  /** Records not yet in the ring, from #stageStart to #stageEnd, at offset 0 of a private (so aligned) ArrayBuffer. */
  #stage = Buffer.allocUnsafeSlow(STAGE_START_BYTES);
  #stageStart = 0;
  #stageEnd = 0;
  #dropped = 0;
  #scheduled = false;
  #waiting = false;
  #keepAlive: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(end: RingLinkEnd, opts: SenderOptions) {
    this.#ctl = new Int32Array(end.shared, 0, CONTROL_BYTES / 4);
    this.#ring = Buffer.from(end.shared, CONTROL_BYTES);
    this.#capacity = this.#ring.length;
    this.#maxPendingBytes = opts.maxPendingBytes;
    this.#maxRecord = Math.min(opts.maxPendingBytes, (this.#capacity >> 1) - 8);
    this.#tail = this.#published = Atomics.load(this.#ctl, TAIL);
    this.#head = Atomics.load(this.#ctl, HEAD);
  }

  get dropped(): number {
    return this.#dropped;
  }

  get pendingBytes(): number {
    this.#head = Atomics.load(this.#ctl, HEAD);
    return used(this.#head, this.#tail, this.#capacity) + this.#stageEnd - this.#stageStart;
  }

  send(topic: string, message: ArrayBuffer | Uint8Array, isBinary: boolean): boolean {
    const encoded = this.#topics.of(topic);
    const bytes = recordBytes(encoded.length, message.byteLength);
    if (this.#closed || encoded.length > MAX_TOPIC_BYTES || bytes > this.#maxRecord) {
      this.#dropped++;
      return false;
    }
    const staged = this.#stageEnd - this.#stageStart;
    if (used(this.#head, this.#tail, this.#capacity) + staged + bytes > this.#maxPendingBytes && this.pendingBytes + bytes > this.#maxPendingBytes) {
      this.#dropped++;
      return false;
    }
    if (this.#stageEnd + bytes > this.#stage.length) this.#makeRoom(bytes);
    this.#stageEnd = writeRecord(this.#stage, this.#stageEnd, encoded, message, isBinary);
    // Large turns go into the ring in pieces (published still once, at flush): the stage stays small, in cache.
    if (this.#stageEnd - this.#stageStart >= MOVE_AT_BYTES) this.#move();
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#move();
    this.#publish();
    this.#closed = true;
    for (let at = this.#stageStart; at < this.#stageEnd; at += this.#recordAt(at)) this.#dropped++;
    this.#stage = Buffer.allocUnsafeSlow(0);
    this.#stageStart = this.#stageEnd = 0;
    if (this.#waiting) {
      // Settles the pending wait for space now rather than at the consumer's next read.
      clearTimeout(this.#keepAlive);
      Atomics.notify(this.#ctl, HEAD_SEQ);
    }
  }

  /** Length of the staged record at `at`. */
  #recordAt(at: number): number {
    const stage = this.#stage;
    return RECORD_HEADER_BYTES + stage.readUInt16BE(at + 1) + stage.readUInt32BE(at + 3);
  }

  /** Makes room for `bytes` more at the stage's end: moves what is staged to the front, or grows. */
  #makeRoom(bytes: number): void {
    const staged = this.#stageEnd - this.#stageStart;
    const stage = this.#stage;
    if (staged + bytes <= stage.length >> 1) {
      stage.copyWithin(0, this.#stageStart, this.#stageEnd);
    } else {
      const bigger = Buffer.allocUnsafeSlow(Math.max(stage.length * 2, staged + bytes));
      stage.copy(bigger, 0, this.#stageStart, this.#stageEnd);
      this.#stage = bigger;
    }
    this.#stageStart = 0;
    this.#stageEnd = staged;
  }

  /**
   * Copies staged records into the ring while they fit, each run of consecutive records in one copy.
   * @returns true when the stage is empty
   */
  #move(): boolean {
    const ring = this.#ring;
    const capacity = this.#capacity;
    const end = this.#stageEnd;
    let from = this.#stageStart;
    const staged = end - from;
    let refreshed = false;
    while (from < end) {
      const tail = this.#tail;
      let free = capacity - 1 - used(this.#head, tail, capacity);
      // The run goes where it has its source's alignment (mod 8); past the ring's end it goes on at the start.
      let at = tail + ((from - tail) & 7);
      const first = this.#recordAt(from);
      const wraps = at + first > capacity;
      if (wraps) {
        free -= capacity - tail;
        at = from & 7;
      }
      if (free < (wraps ? at : at - tail) + first) {
        if (refreshed) break;
        this.#head = Atomics.load(this.#ctl, HEAD);
        refreshed = true;
        continue;
      }
      // Whole records, as many as fit both the free space and the room before the end.
      const room = Math.min(capacity - at, free - (wraps ? at : at - tail));
      let to = from + first;
      while (to < end) {
        const next = to + this.#recordAt(to);
        if (next - from > room) break;
        to = next;
      }
      if (wraps) {
        ring[tail] = WRAP;
        ring.fill(PAD, 0, at);
      } else {
        ring.fill(PAD, tail, at);
      }
      ring.set(this.#stage.subarray(from, to), at);
      const newTail = at + (to - from);
      this.#tail = newTail === capacity ? 0 : newTail;
      from = to;
    }
    this.#stageStart = from;
    if (from < end) return false;
    this.#stageStart = this.#stageEnd = 0;
    if (this.#stage.length > STAGE_SHRINK_BYTES && this.#stage.length > 4 * staged) {
      this.#stage = Buffer.allocUnsafeSlow(Math.max(STAGE_START_BYTES, 2 * staged));
    }
    return true;
  }

  /** Makes every record written so far visible to the consumer, and wakes it if it sleeps. */
  #publish(): void {
    if (this.#tail === this.#published) return;
    this.#published = this.#tail;
    const ctl = this.#ctl;
    // The records' bytes were written before this store; a consumer that loads this tail reads them complete.
    Atomics.store(ctl, TAIL, this.#tail);
    if (Atomics.load(ctl, CONSUMER_WAITING) !== 0) {
      Atomics.add(ctl, TAIL_SEQ, 1);
      Atomics.notify(ctl, TAIL_SEQ);
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#closed) return;
    const empty = this.#move();
    this.#publish();
    if (!empty) this.#awaitSpace();
  };

  /** Sleeps until the consumer frees space, then flushes again. Holds the thread while records wait. */
  #awaitSpace(): void {
    if (this.#waiting) return;
    const ctl = this.#ctl;
    Atomics.store(ctl, PRODUCER_WAITING, 1);
    const seq = Atomics.load(ctl, HEAD_SEQ);
    // Space freed before the flag was up was not announced: look once more before sleeping.
    const empty = this.#move();
    this.#publish();
    if (empty) {
      Atomics.store(ctl, PRODUCER_WAITING, 0);
      return;
    }
    this.#waiting = true;
    // A pending waitAsync holds no handle: without this, a thread with nothing else to do would end with accepted
    // records still staged.
    this.#keepAlive = setTimeout(noop, KEEP_ALIVE_MS);
    const wait = waitAsync(ctl, HEAD_SEQ, seq, RECHECK_MS);
    if (wait.async) void wait.value.then(this.#spaceFreed);
    else queueMicrotask(this.#spaceFreed);
  }

  readonly #spaceFreed = (): void => {
    this.#waiting = false;
    clearTimeout(this.#keepAlive);
    Atomics.store(this.#ctl, PRODUCER_WAITING, 0);
    this.#flush();
  };
}

class RingReceiver implements LinkReceiver {
  readonly #ctl: Int32Array;
  readonly #ring: Buffer;
  readonly #capacity: number;
  readonly #deliver: Deliver;
  readonly #onError: ((err: unknown) => void) | undefined;
  readonly #read: ReadState = { record: emptyRecord(), counts: { delivered: 0, failed: 0 }, names: new TopicNames() };
  #head: number;
  #missedWakeups = 0;
  #closed = false;

  constructor(end: RingLinkEnd, deliver: Deliver, opts: ReceiverOptions) {
    this.#ctl = new Int32Array(end.shared, 0, CONTROL_BYTES / 4);
    this.#ring = Buffer.from(end.shared, CONTROL_BYTES);
    this.#capacity = this.#ring.length;
    this.#deliver = deliver;
    this.#onError = opts.onError;
    this.#head = Atomics.load(this.#ctl, HEAD);
    this.#wait();
  }

  get delivered(): number {
    return this.#read.counts.delivered;
  }

  get failed(): number {
    return this.#read.counts.failed;
  }

  /** Times a re-check found published records: a wake-up later than RECHECK_MS (a preempted producer) or lost. */
  get missedWakeups(): number {
    return this.#missedWakeups;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Settles this receiver's own pending wait now.
    Atomics.notify(this.#ctl, TAIL_SEQ);
  }

  /** Delivers every record published so far, handing space back to the producer as it goes. */
  readonly #drain = (): void => {
    if (this.#closed) return;
    const ctl = this.#ctl;
    const ring = this.#ring;
    const capacity = this.#capacity;
    const releaseEvery = capacity >> 2;
    const tail = Atomics.load(ctl, TAIL);
    let head = this.#head;
    let released = head;
    let consumed = 0;
    // Up to DRAIN_BUDGET_BYTES per turn: the rest waits for the next one, after this thread's own I/O.
    while (head !== tail && !this.#closed && consumed < DRAIN_BUDGET_BYTES) {
      const first = ring[head];
      if (first === PAD) {
        head++;
        continue;
      }
      if (first === WRAP) {
        head = 0;
        continue;
      }
      const next = deliverRecord(ring, head, capacity, this.#read, this.#deliver, this.#onError);
      consumed += next - head;
      head = next === capacity ? 0 : next;
      // A long batch gives its space back in quarters, so the producer need not wait for all of it.
      if (used(released, head, capacity) >= releaseEvery) {
        this.#release(head);
        released = head;
      }
    }
    this.#head = head;
    this.#release(head);
    this.#wait();
  };

  #release(head: number): void {
    const ctl = this.#ctl;
    Atomics.store(ctl, HEAD, head);
    if (Atomics.load(ctl, PRODUCER_WAITING) !== 0) {
      Atomics.add(ctl, HEAD_SEQ, 1);
      Atomics.notify(ctl, HEAD_SEQ);
    }
  }

  /** Drains on the next turn when records are already waiting, else sleeps until the producer publishes. */
  #wait(): void {
    if (this.#closed) return;
    const ctl = this.#ctl;
    Atomics.store(ctl, CONSUMER_WAITING, 1);
    const seq = Atomics.load(ctl, TAIL_SEQ);
    // A publish before the flag was up was not announced: look once more before sleeping.
    if (Atomics.load(ctl, TAIL) !== this.#head) {
      Atomics.store(ctl, CONSUMER_WAITING, 0);
      setImmediate(this.#drain);
      return;
    }
    const wait = waitAsync(ctl, TAIL_SEQ, seq, RECHECK_MS);
    if (wait.async) void wait.value.then(this.#woken);
    else setImmediate(this.#woken, wait.value);
  }

  readonly #woken = (why: 'ok' | 'timed-out' | 'not-equal'): void => {
    const ctl = this.#ctl;
    Atomics.store(ctl, CONSUMER_WAITING, 0);
    if (why === 'timed-out' && Atomics.load(ctl, TAIL) !== this.#head) this.#missedWakeups++;
    this.#drain();
  };
}

/** The SharedArrayBuffer ring carrier. */
export const ringCarrier: Carrier<RingLinkEnd> = {
  kind: 'ring',
  createLink,
  openSender: (end, opts) => new RingSender(end, opts),
  openReceiver: (end, deliver, opts = {}) => new RingReceiver(end, deliver, opts),
};
