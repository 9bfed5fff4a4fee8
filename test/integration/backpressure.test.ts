// Slow consumers and fast publishers, with real sockets: a close frame a slow client can read, stalled clients cut
// in bounded time, the total budget dropping the largest queues, and a flood shed at its source while readers
// that read as fast as they can keep their connections. A stalled reader is a raw TCP client that completes the
// handshake and never reads.
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { listening, runCli } from '../helpers/cli.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { Opcode, parseFrames, rawUpgrade, readAnsweringPings } from '../helpers/raw.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { until, within } from '../helpers/wait.js';

const FLOOD = fileURLToPath(new URL('../fixtures/flood.mjs', import.meta.url));

/** A ws client that reads as fast as it can and counts what it gets; `closed` is its close code. */
class Reader {
  readonly ws: WebSocket;
  count = 0;
  bytes = 0;
  closeCode: number | null = null;
  readonly #waiters: (() => void)[] = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data: Buffer) => {
      this.count++;
      this.bytes += data.length;
      this.#waiters.splice(0).forEach((wake) => wake());
    });
    this.ws.on('close', (code) => {
      this.closeCode = code;
      this.#waiters.splice(0).forEach((wake) => wake());
    });
    this.ws.on('error', () => {
      // shows as closeCode
    });
    onTestFinished(() => this.ws.terminate());
  }

  opened(): Promise<void> {
    return within(new Promise((resolve) => this.ws.once('open', () => resolve())), 5000, 'a reader to connect');
  }

  /** Resolves once `n` messages arrived; fails if the connection closes first. */
  received(n: number, ms = 15_000): Promise<void> {
    return within(
      (async () => {
        while (this.count < n) {
          if (this.closeCode !== null) throw new Error(`reader closed (${this.closeCode}) after ${this.count}/${n} messages`);
          await new Promise<void>((wake) => this.#waiters.push(wake));
        }
      })(),
      ms,
      `${n} messages (have ${this.count})`,
    );
  }
}

/** Sends `chunk` `rounds` times from `sender`, waiting for every message to come back to it before the next batch. */
async function publishInLockstep(sender: Reader, chunk: Buffer, rounds: number, until?: () => boolean): Promise<number> {
  const start = sender.count;
  for (let i = 0; i < rounds; i++) {
    if (until?.()) return i;
    sender.ws.send(chunk);
    if (i % 8 === 7) await sender.received(start + i + 1);
  }
  await sender.received(start + rounds);
  return rounds;
}

/** Reads everything the relay sent to a raw socket that had stopped reading, until the server closes it. */
function drainRaw(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return within(
    new Promise<Buffer>((resolve) => {
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.once('close', () => resolve(Buffer.concat(chunks)));
      socket.resume();
    }),
    15_000,
    'the slow client to read its queue and be closed',
  );
}

describe('slow consumers', () => {
  it('a client past the soft limit gets 4008 "slow consumer" behind its data, and reads it when it catches up', async () => {
    // One thread: the test watches that thread's guard (relay.backpressure) between messages.
    const relay = await startRelay({ server: { workers: 1 }, relay: { max_backpressure_bytes: 1024 * 1024, soft_backpressure_bytes: 256 * 1024, max_stall_s: 0 } });
    const slow = await rawUpgrade(relay.wsPort);
    slow.pause();
    const fast = new Reader(relay.url);
    await fast.opened();
    const chunk = Buffer.alloc(16 * 1024, 7);
    // Fill the kernel's buffers toward the slow client at full speed, until uWS starts queueing for it...
    let sent = await publishInLockstep(fast, chunk, 4096, () => relay.backpressure.state.queuedBytes > 0);
    // ...then go on as a steady stream (320 KB/s) until the relay ends it.
    while (cuts(relay) === 0 && sent < 4096) {
      sent += await publishInLockstep(fast, chunk, 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(cuts(relay)).toBe(1);
    const text = await scrape(relay.metricsUrl);
    expect(metricValue(text, 'relay_slow_consumer_cuts_total', { trigger: 'soft_limit' })).toBe(1);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'slow_consumer' })).toBe(1);
    expect(metricValue(text, 'relay_shed_messages_total')).toBe(0);
    // The client resumes reading: every message queued to it, then the close frame.
    const frames = parseFrames(await drainRaw(slow));
    const close = frames.at(-1)!;
    expect(close.opcode).toBe(Opcode.close);
    expect(close.closeCode).toBe(4008);
    expect(close.payload.subarray(2).toString()).toBe('slow consumer');
    const data = frames.filter((f) => f.opcode === Opcode.binary);
    expect(data.length).toBeGreaterThan(16);
    expect(data.every((f) => f.payload.length === chunk.length)).toBe(true);
    // The fast client lost nothing and kept its connection.
    expect(fast.count).toBe(sent);
    expect(fast.closeCode).toBeNull();
  });

  it('a client whose queue does not drain for max_stall_s is ended with 4008 below the soft limit', async () => {
    // A soft limit above what the kernel holds for the client, so that only the stall can end it. One thread, as above.
    const relay = await startRelay({
      server: { workers: 1 },
      relay: { max_stall_s: 1, max_backpressure_bytes: 64 * 1024 * 1024, soft_backpressure_bytes: 32 * 1024 * 1024 },
    });
    const stalled = await rawUpgrade(relay.wsPort);
    stalled.pause();
    const fast = new Reader(relay.url);
    await fast.opened();
    // Fill the kernel's buffers toward the stalled client, then queue a little in uWS (far below the soft limit).
    const chunk = Buffer.alloc(16 * 1024, 1);
    let sent = 0;
    await until(
      async () => {
        sent += await publishInLockstep(fast, chunk, 16);
        return (await queued(relay)) > 0;
      },
      15_000,
      'a queue to build toward the stalled client',
    );
    expect(await queued(relay)).toBeLessThan(4 * 1024 * 1024);
    const started = performance.now();
    await until(() => cuts(relay) === 1, 5000, 'the stalled client to be ended', 20);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(500);
    const text = await scrape(relay.metricsUrl);
    expect(metricValue(text, 'relay_slow_consumer_cuts_total', { trigger: 'stall' })).toBe(1);
    const frames = parseFrames(await drainRaw(stalled));
    expect(frames.at(-1)!.closeCode).toBe(4008);
    expect(fast.count).toBe(sent);
  });

  it('a client that stops reading is ended within seconds while the kernel still holds its data, before the relay queues any', async () => {
    // max_stall_s off: only the unanswered ping can end it. 16 KiB every 20 ms (800 KB/s), as a live stream.
    const relay = await startRelay({ server: { workers: 1 }, relay: { max_stall_s: 0 } }); // one thread: the test watches its guard
    const stalled = await rawUpgrade(relay.wsPort);
    stalled.pause();
    const fast = new Reader(relay.url);
    await fast.opened();
    const chunk = Buffer.alloc(16 * 1024, 5);
    let sent = 0;
    let maxQueued = 0;
    const started = performance.now();
    while (cuts(relay) === 0 && performance.now() - started < 10_000) {
      sent += await publishInLockstep(fast, chunk, 1);
      maxQueued = Math.max(maxQueued, relay.backpressure.state.queuedBytes);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(cuts(relay)).toBe(1);
    expect(relay.backpressure.state.cuts.soft_limit).toBe(1);
    // uWS never queued for it: everything it was sent waited in the kernel's buffers, which the relay cannot read.
    expect(maxQueued).toBe(0);
    const frames = parseFrames(await drainRaw(stalled));
    expect(frames.some((f) => f.opcode === Opcode.ping)).toBe(true);
    expect(frames.at(-1)!.closeCode).toBe(4008);
    expect(fast.count).toBe(sent);
    expect(fast.closeCode).toBeNull();
  });

  it('over the total budget the largest queues are dropped first; a healthy reader loses nothing', async () => {
    // 8 stalled clients may each hold up to 768 KiB before the soft limit; together they may hold 1 MiB.
    // One thread: the budget is then this thread's whole (each thread holds an equal share), and the loop below
    // watches this thread's guard.
    const relay = await startRelay({
      server: { workers: 1 },
      relay: { max_backpressure_bytes: 1536 * 1024, soft_backpressure_bytes: 768 * 1024, max_stall_s: 0, max_total_backpressure_bytes: 1024 * 1024 },
    });
    const stalled = await Promise.all(Array.from({ length: 8 }, () => rawUpgrade(relay.wsPort)));
    for (const s of stalled) s.pause();
    const fast = new Reader(relay.url);
    await fast.opened();
    const chunk = Buffer.alloc(16 * 1024, 3);
    const sent = await publishInLockstep(fast, chunk, 8192, () => budgetCuts(relay) >= 4);
    const text = await scrape(relay.metricsUrl);
    expect(metricValue(text, 'relay_slow_consumer_cuts_total', { trigger: 'budget' })).toBeGreaterThanOrEqual(4);
    expect(metricValue(text, 'relay_slow_consumer_cuts_total', { trigger: 'soft_limit' })).toBe(0);
    expect(metricValue(text, 'relay_backpressure_budget_bytes')).toBe(1024 * 1024);
    // What the sweep saw never stayed above the budget plus what one sweep interval can add.
    expect(metricValue(text, 'relay_backpressure_bytes')).toBeLessThan(1024 * 1024 + 512 * 1024);
    expect(fast.count).toBe(sent);
    expect(fast.closeCode).toBeNull();
  });

  it('with the default config, a publisher flooding faster than anyone reads is shed; readers keep their connections', { timeout: 30_000 }, async () => {
    // The relay, the flood and the readers each in their own process, as on a real network.
    const run = runCli(['--set', 'server.host=127.0.0.1', '--set', 'server.port=0', '--set', 'metrics.host=127.0.0.1', '--set', 'metrics.port=0']);
    const { ws_port, metrics_port } = await listening(run);
    const metricsUrl = `http://127.0.0.1:${metrics_port}/metrics`;
    // Readers that read as fast as they can: raw sockets that count bytes, parse frame heads only and answer pings.
    const readers = await Promise.all(Array.from({ length: 5 }, () => rawUpgrade(ws_port)));
    const received = readers.map(() => 0);
    const closed = readers.map(() => false);
    readers.forEach((socket, i) => {
      socket.once('close', () => (closed[i] = true));
      readAnsweringPings(socket, (bytes) => (received[i]! += bytes));
    });
    const flood = spawn(process.execPath, [FLOOD, String(ws_port), '4', String(60 * 1024)], { stdio: ['ignore', 'pipe', 'inherit'] });
    onTestFinished(() => {
      if (flood.exitCode === null) flood.kill('SIGKILL');
    });
    let out = '';
    flood.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await within(new Promise((resolve) => flood.once('exit', resolve)), 15_000, 'the flood to end');
    const { frames } = JSON.parse(out) as { frames: number };
    const text = await scrape(metricsUrl);
    const shed = metricValue(text, 'relay_shed_messages_total') ?? 0;
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'slow_consumer' })).toBe(0);
    expect(closed).toEqual([false, false, false, false, false]);
    // The flood really outran the readers: its excess was shed, and every reader got a share of it.
    expect(shed).toBeGreaterThan(0);
    for (const bytes of received) expect(bytes).toBeGreaterThan(1024 * 1024);
    expect(frames).toBeGreaterThan(shed);
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });
});

function cuts(relay: TestRelay): number {
  const c = relay.backpressure.state.cuts;
  return c.soft_limit + c.stall + c.budget;
}

function budgetCuts(relay: TestRelay): number {
  return relay.backpressure.state.cuts.budget;
}

async function queued(relay: TestRelay): Promise<number> {
  return metricValue(await scrape(relay.metricsUrl), 'relay_backpressure_bytes') ?? 0;
}
