// The cross-thread carrier, both implementations: every message exactly once and in order across threads under
// bursts, bytes and the text/binary flag untouched, the pending-bytes bound (drops counted), close(), and links that
// never keep a thread alive.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { Carrier, LinkEnd, LinkReceiver, LinkSender } from '../../src/workers/carrier.js';
import { transferList } from '../../src/workers/carrier.js';
import { portCarrier } from '../../src/workers/port-carrier.js';
import { ringCarrier } from '../../src/workers/ring-carrier.js';
import { randomBytes, seededRandom } from '../helpers/seeded.js';
import { until, within } from '../helpers/wait.js';

const carriers: Carrier[] = [portCarrier, ringCarrier];
const MODULES = {
  port: new URL('../../src/workers/port-carrier.ts', import.meta.url).href,
  ring: new URL('../../src/workers/ring-carrier.ts', import.meta.url).href,
};

const SIZES = [4, 64, 1024, 16384, 5, 20000, 300];

// The thread on the other side (CommonJS, evaluated). Messages follow one rule both sides know: payload = seq as
// uint32 LE, then byte j = (seq + j) & 255, sizes cycling through SIZES; topic t<seq % 5>; every third one is text.
//   role 'send': sends `count` messages in bursts of 100 per event-loop turn, then reports { sent, dropped }.
//   role 'echo': sends back every message it receives; after `count` it reports 'done' and lets go of the one timer
//     that kept it alive (as its uWS app would), closing its link ends three times first if `close` is set.
const WORKER = `
const { workerData: data, parentPort } = require('node:worker_threads');
const SIZES = ${JSON.stringify(SIZES)};
function make(seq) {
  const out = Buffer.allocUnsafe(SIZES[seq % SIZES.length]);
  out.writeUInt32LE(seq, 0);
  for (let j = 4; j < out.length; j++) out[j] = (seq + j) & 255;
  return out;
}
(async () => {
  (await import('tsx/esm/api')).register();
  const mod = await import(data.module);
  const carrier = mod.portCarrier ?? mod.ringCarrier;
  if (data.role === 'send') {
    const sender = carrier.openSender(data.end, { maxPendingBytes: data.maxPendingBytes });
    let seq = 0;
    const burst = () => {
      for (let i = 0; i < 100 && seq < data.count; i++, seq++) sender.send('t' + (seq % 5), make(seq), seq % 3 !== 0);
      if (seq < data.count) setImmediate(burst);
      else parentPort.postMessage({ sent: seq, dropped: sender.dropped });
    };
    burst();
    return;
  }
  const keepAlive = setInterval(() => {}, 1 << 30);
  const back = carrier.openSender(data.back, { maxPendingBytes: 1 << 26 });
  let received = 0;
  const receiver = carrier.openReceiver(data.end, (topic, message, isBinary) => {
    back.send(topic, message, isBinary);
    if (++received < data.count) return;
    if (data.close) for (let i = 0; i < 3; i++) { back.close(); receiver.close(); }
    parentPort.postMessage('done');
    clearInterval(keepAlive);
  });
  parentPort.postMessage('ready');
})().catch((err) => { throw err; });
`;
/** Why `message` breaks the rule for `seq`, or null when it keeps it. */
function mismatch(seq: number, topic: string, message: Uint8Array, isBinary: boolean): string | null {
  const payload = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (payload.length < 4 || payload.readUInt32LE(0) !== seq) return `expected seq ${seq}, got ${payload.length < 4 ? 'a short message' : payload.readUInt32LE(0)}`;
  if (payload.length !== SIZES[seq % SIZES.length]) return `seq ${seq}: ${payload.length} bytes`;
  if (topic !== `t${seq % 5}`) return `seq ${seq}: topic ${topic}`;
  if (isBinary !== (seq % 3 !== 0)) return `seq ${seq}: isBinary ${isBinary}`;
  for (let j = 4; j < payload.length; j++) if (payload[j] !== ((seq + j) & 255)) return `seq ${seq}: byte ${j} changed`;
  return null;
}

/** Checks arriving messages against the rule, in order. */
function checker(): { deliver: (topic: string, message: Uint8Array, isBinary: boolean) => void; next: () => number; errors: string[] } {
  let next = 0;
  const errors: string[] = [];
  return {
    deliver: (topic, message, isBinary) => {
      const wrong = mismatch(next, topic, message, isBinary);
      if (wrong !== null && errors.length < 5) errors.push(wrong);
      next++;
    },
    next: () => next,
    errors,
  };
}

const workers: Worker[] = [];
const opened: { close(): void }[] = [];
afterEach(async () => {
  for (const end of opened.splice(0)) end.close();
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

function spawn(workerData: Record<string, unknown>, transfer: LinkEnd[]): Worker {
  const worker = new Worker(WORKER, { eval: true, workerData, transferList: transfer.flatMap(transferList) });
  workers.push(worker);
  return worker;
}

function messageFrom<T>(worker: Worker, what: string, ms = 20_000): Promise<T> {
  return within(
    new Promise<T>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    ms,
    what,
  );
}

function exitOf(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}

/** Opens a sender and a receiver of a fresh link in this thread, closed after the test. */
function local(carrier: Carrier, deliver: (topic: string, message: Uint8Array, isBinary: boolean) => void, maxPendingBytes: number, ringBytes?: number) {
  const link = carrier.createLink(ringBytes === undefined ? {} : { ringBytes });
  const receiver: LinkReceiver = carrier.openReceiver(link.receiver, deliver);
  const sender: LinkSender = carrier.openSender(link.sender, { maxPendingBytes });
  opened.push(sender, receiver);
  return { sender, receiver };
}

describe.each(carriers)('$kind carrier', (carrier) => {
  it('delivers every message of another thread exactly once and in order, under bursts', async () => {
    const count = 10_000;
    // A small ring makes the ring carrier wrap and queue all the time.
    const link = carrier.createLink({ ringBytes: 64 * 1024 });
    const check = checker();
    opened.push(carrier.openReceiver(link.receiver, check.deliver));
    const worker = spawn({ role: 'send', module: MODULES[carrier.kind], end: link.sender, count, maxPendingBytes: 256 * 1024 * 1024 }, [link.sender]);
    const report = await messageFrom<{ sent: number; dropped: number }>(worker, 'the sender to finish');
    expect(report).toEqual({ sent: count, dropped: 0 });
    await until(() => check.next() >= count, 20_000, `${count} messages (got ${check.next()})`);
    expect(check.errors).toEqual([]);
    expect(check.next()).toBe(count);
  });

  it('keeps bytes, topics and the text/binary flag untouched', async () => {
    const got: [string, Buffer, boolean][] = [];
    const { sender, receiver } = local(carrier, (topic, message, isBinary) => got.push([topic, Buffer.from(message), isBinary]), 1 << 20);
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const invalidUtf8 = Buffer.from([0xc3, 0x28, 0xff, 0x00, 0xed, 0xa0, 0x80]);
    const sliced = new Uint8Array(every.buffer.slice(0), 10, 20);
    const sent: [string, Uint8Array | ArrayBuffer, boolean][] = [
      ['room', every, true],
      ['room', invalidUtf8, false],
      ['', new Uint8Array(0), true],
      ['café/ü/日本', Buffer.from('héllo'), false],
      ['x'.repeat(300), every.buffer.slice(every.byteOffset, every.byteOffset + 256), true],
      ['room', sliced, true],
    ];
    for (const [topic, message, isBinary] of sent) expect(sender.send(topic, message, isBinary)).toBe(true);
    await until(() => got.length === sent.length, 5000, 'every message');
    expect(got).toEqual(sent.map(([topic, message, isBinary]) => [topic, Buffer.from(message instanceof ArrayBuffer ? new Uint8Array(message) : message), isBinary]));
    expect(receiver.delivered).toBe(sent.length);
  });

  it('carries random sizes and topics over many turns through a small ring, every byte in order', async () => {
    const random = seededRandom(11);
    const got: [string, Buffer, boolean][] = [];
    // 4 KiB of ring: records wrap, pad and wait staged all the time.
    const { sender } = local(carrier, (topic, message, isBinary) => got.push([topic, Buffer.from(message), isBinary]), 1 << 24, 4096);
    const sent: [string, Buffer, boolean][] = [];
    const alphabet = ['a', 'é', '日', '/', '0'];
    while (sent.length < 3000) {
      for (let n = Math.floor(random() * 60); n > 0; n--) {
        const topic = Array.from({ length: Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
        const message: [string, Buffer, boolean] = [topic, randomBytes(random, Math.floor(random() ** 3 * 1900)), random() < 0.5];
        expect(sender.send(...message)).toBe(true);
        sent.push(message);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => got.length >= sent.length, 10_000, `${sent.length} messages (got ${got.length})`);
    expect(got).toEqual(sent);
    expect(sender.dropped).toBe(0);
  });

  it('drops and counts beyond maxPendingBytes while the receiver has not read, and takes messages again once it has', async () => {
    const got: number[] = [];
    const { sender } = local(carrier, (_topic, message) => got.push(Buffer.from(message).readUInt32LE(0)), 10_000);
    const accepted: boolean[] = [];
    // One turn: the receiver cannot read in between. Each record is 7 + 1 + 1000 bytes: 9 fit in 10,000.
    for (let i = 0; i < 100; i++) accepted.push(sender.send('t', numbered(i, 1000), true));
    expect(accepted.filter(Boolean).length).toBe(9);
    expect(accepted.slice(0, 9).every(Boolean)).toBe(true);
    expect(sender.dropped).toBe(91);
    expect(sender.pendingBytes).toBeGreaterThan(9000);
    await until(() => got.length === 9, 5000, 'the accepted messages');
    await until(() => sender.pendingBytes === 0, 5000, 'the receiver to have read them');
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sender.send('t', Buffer.alloc(1000), true)).toBe(true);
    expect(sender.dropped).toBe(91);
  });

  it('counts a throwing deliver and still delivers the next messages', async () => {
    const got: string[] = [];
    const { sender, receiver } = local(
      carrier,
      (_topic, message) => {
        const text = Buffer.from(message).toString();
        if (text === 'bad') throw new Error('deliver failed');
        got.push(text);
      },
      1 << 20,
    );
    for (const text of ['a', 'bad', 'b']) sender.send('t', Buffer.from(text), false);
    await until(() => got.length === 2, 5000, 'the messages after the failing one');
    expect(got).toEqual(['a', 'b']);
    expect(receiver.failed).toBe(1);
    expect(receiver.delivered).toBe(2);
  });

  it('close() is idempotent, hands over what was sent, and later sends drop', async () => {
    const got: string[] = [];
    const { sender } = local(carrier, (_topic, message) => got.push(Buffer.from(message).toString()), 1 << 20);
    sender.send('t', Buffer.from('before'), false);
    for (let i = 0; i < 3; i++) sender.close();
    expect(sender.send('t', Buffer.from('after'), false)).toBe(false);
    expect(sender.dropped).toBe(1);
    await until(() => got.length === 1, 5000, 'the message sent before close');
    expect(got).toEqual(['before']);
  });

  it('an open, idle link does not keep its thread alive; neither does a closed one', async () => {
    for (const close of [false, true]) {
      const there = carrier.createLink();
      const back = carrier.createLink();
      const check = checker();
      opened.push(carrier.openReceiver(back.receiver, check.deliver));
      const worker = spawn({ role: 'echo', module: MODULES[carrier.kind], end: there.receiver, back: back.sender, count: 50, close }, [there.receiver, back.sender]);
      const exited = exitOf(worker);
      expect(await messageFrom(worker, 'the worker to be ready')).toBe('ready');
      const sender = carrier.openSender(there.sender, { maxPendingBytes: 1 << 26 });
      opened.push(sender);
      for (let seq = 0; seq < 50; seq++) sender.send(`t${seq % 5}`, Buffer.from(makeMessage(seq)), seq % 3 !== 0);
      expect(await within(exited, 10_000, `the worker to exit by itself (close: ${close})`)).toBe(0);
      await until(() => check.next() >= 50, 5000, 'every echo');
      expect(check.errors).toEqual([]);
    }
  });
});

describe('ring carrier', () => {
  it('queues what the ring cannot hold, within the bound, and delivers it in order as space frees', async () => {
    const got: number[] = [];
    const { sender } = local(ringCarrier, (_topic, message) => got.push(Buffer.from(message).readUInt32LE(0)), 50_000, 4096);
    const accepted: boolean[] = [];
    for (let i = 0; i < 100; i++) accepted.push(sender.send('t', numbered(i, 1000), true));
    // 4 records fit the 4 KiB ring, 45 more wait in the queue: 49 × 1008 bytes within 50,000.
    expect(accepted.filter(Boolean).length).toBe(49);
    expect(sender.dropped).toBe(51);
    await until(() => got.length === 49, 5000, 'the queued messages');
    expect(got).toEqual(Array.from({ length: 49 }, (_, i) => i));
  });

  it('drops a message larger than half the ring instead of waiting for room that never comes', async () => {
    const got: string[] = [];
    const { sender } = local(ringCarrier, (_topic, message) => got.push(Buffer.from(message).toString()), 1 << 20, 4096);
    expect(sender.send('t', Buffer.alloc(3000, 'x'), false)).toBe(false);
    expect(sender.send('t', Buffer.from('small'), false)).toBe(true);
    await until(() => got.length === 1, 5000, 'the small message');
    expect(got).toEqual(['small']);
    expect(sender.dropped).toBe(1);
  });

  it('rejects a ring size out of range', () => {
    expect(() => ringCarrier.createLink({ ringBytes: 100 })).toThrow(/ringBytes/);
    expect(() => ringCarrier.createLink({ ringBytes: 1.5 * 1024 * 1024 + 0.5 })).toThrow(/ringBytes/);
  });
});

/** The rule's message for `seq` (what the worker's make() builds). */
function makeMessage(seq: number): Buffer {
  const out = Buffer.allocUnsafe(SIZES[seq % SIZES.length] ?? 4);
  out.writeUInt32LE(seq, 0);
  for (let j = 4; j < out.length; j++) out[j] = (seq + j) & 255;
  return out;
}

/** `bytes` zero bytes but for `i` as uint32 LE up front. */
function numbered(i: number, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  out.writeUInt32LE(i, 0);
  return out;
}
