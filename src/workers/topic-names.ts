// Topic names on the receiving side of a link. A record carries its topic as UTF-8 bytes; decoding them per message
// allocates a string, and every Map lookup by that fresh string hashes it again. A thread receives the same few topics
// over and over, so each receiver recognises bytes it has seen and hands back the very string it decoded the first
// time (its hash already computed): per message a short hash over the bytes, one lookup by number, one comparison.

/** Topics longer than this (bytes) are decoded each time: hashing and comparing them would cost what decoding does. */
const MAX_CACHED_BYTES = 256;
/** Topics remembered before the cache starts over (rooms come and go; clearing bounds its memory at ~3 MiB). */
const MAX_ENTRIES = 4096;

interface Entry {
  /** A copy of the topic's bytes (the record's memory is reused by the link). */
  readonly bytes: Uint8Array;
  readonly name: string;
}

/** One link receiver's decoded topics. Not shared between threads. */
export class TopicNames {
  readonly #entries = new Map<number, Entry>();

  /** The topic whose UTF-8 bytes are buf[start, end), as a string; the same string object for the same bytes. */
  name(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > MAX_CACHED_BYTES) return buf.toString('utf8', start, end);
    // FNV-1a over the bytes, kept to 30 bits so the key stays a small integer on every V8 build.
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
    const key = h & 0x3fffffff;
    const found = this.#entries.get(key);
    if (found !== undefined && sameBytes(found.bytes, buf, start, length)) return found.name;
    const name = buf.toString('utf8', start, end);
    if (found === undefined && this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    // A collision replaces the entry: the other topic is decoded again when it comes back.
    const bytes = new Uint8Array(length);
    bytes.set(buf.subarray(start, end));
    this.#entries.set(key, { bytes, name });
    return name;
  }

  /** Topics remembered now. */
  get size(): number {
    return this.#entries.size;
  }
}

function sameBytes(known: Uint8Array, buf: Uint8Array, start: number, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) if (known[i] !== buf[start + i]) return false;
  return true;
}

/** Topics whose UTF-8 bytes a sender remembers before it starts over. */
const MAX_ENCODED = 4096;
/** Topics longer than this (UTF-16 code units) are encoded each time, as the receiver decodes them: a bound on memory. */
const MAX_ENCODED_CHARS = MAX_CACHED_BYTES;

/** Memory a sender encodes its topics into, a block at a time (bytes); at most 768 bytes of one go unused. */
const SLAB_BYTES = 16 * 1024;

/**
 * Topic names on the sending side of a link: a topic's UTF-8 bytes, encoded once and copied into each record after
 * that (measuring and encoding a string per message costs more than one lookup by a string whose hash V8 keeps).
 * One per link sender. The bytes go into blocks of its own, dropped together with the topics when it starts over: a
 * short Buffer.from() is a slice of Node's shared 8 KiB pool block, which a remembered topic would keep alive.
 */
export class TopicBytes {
  readonly #encoded = new Map<string, Uint8Array>();
  #slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  #used = 0;

  /** `topic` as UTF-8 (the same array for the same topic while remembered; never written to). */
  of(topic: string): Uint8Array {
    if (topic.length > MAX_ENCODED_CHARS) return Buffer.from(topic, 'utf8');
    let bytes = this.#encoded.get(topic);
    if (bytes === undefined) {
      if (this.#encoded.size >= MAX_ENCODED) {
        this.#encoded.clear();
        this.#newSlab();
      }
      // A UTF-16 code unit takes at most 3 bytes in UTF-8.
      if (this.#used + topic.length * 3 > SLAB_BYTES) this.#newSlab();
      const start = this.#used;
      this.#used += this.#slab.write(topic, start, 'utf8');
      bytes = this.#slab.subarray(start, this.#used);
      this.#encoded.set(topic, bytes);
    }
    return bytes;
  }

  /** Topics remembered now. */
  get size(): number {
    return this.#encoded.size;
  }

  #newSlab(): void {
    this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.#used = 0;
  }
}
