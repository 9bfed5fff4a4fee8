// Which uWS threads have subscribers for a topic, in shared memory: per thread, how many of its topics (those with at
// least one subscriber) hash to each bucket. A thread hands a message to another thread's link only when that thread
// has a topic in the message's bucket, so with rooms a thread without subscribers for a room costs nothing for it.
// A collision only costs a needless hand-off; a topic joined on another thread at the very moment a message is sent
// may miss that one message, as a client that joins a moment later would.

/** Buckets per thread (16 KiB of counts each). */
const BUCKETS = 4096;

export class TopicInterest {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;
  readonly #own: number;
  readonly #thread: number;
  /** Where the per-thread "every topic" flags start (after every thread's buckets). */
  readonly #flags: number;

  static allocate(threads: number): SharedArrayBuffer {
    return new SharedArrayBuffer(threads * (BUCKETS + 1) * Int32Array.BYTES_PER_ELEMENT);
  }

  /** @param thread this thread's index: joined/left count under it */
  constructor(buffer: SharedArrayBuffer, thread: number) {
    this.buffer = buffer;
    this.#cells = new Int32Array(buffer);
    this.#own = thread * BUCKETS;
    this.#thread = thread;
    this.#flags = (this.#cells.length / (BUCKETS + 1)) * BUCKETS;
  }

  /** This thread takes every message, subscribers or not: it forwards them to other instances (the Redis backplane). */
  wantsEverything(): void {
    Atomics.store(this.#cells, this.#flags + this.#thread, 1);
  }

  /** `topic` got its first subscriber on this thread. */
  joined(topic: string): void {
    Atomics.add(this.#cells, this.#own + bucketOf(topic), 1);
  }

  /** `topic` lost its last subscriber on this thread. */
  left(topic: string): void {
    Atomics.sub(this.#cells, this.#own + bucketOf(topic), 1);
  }

  /** Whether thread `thread` may have subscribers in `bucket` (from bucketOf). */
  has(thread: number, bucket: number): boolean {
    return Atomics.load(this.#cells, thread * BUCKETS + bucket) > 0 || Atomics.load(this.#cells, this.#flags + thread) === 1;
  }
}

/** FNV-1a over the topic's UTF-16 code units, folded to a bucket. Per message: no allocation. */
export function bucketOf(topic: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < topic.length; i++) {
    h ^= topic.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}
