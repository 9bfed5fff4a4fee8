// Read receipts: the pings the slow-consumer guard queues behind each socket's data, and what their answers prove.
// The guard runs on a clock of its own here and on stand-in sockets, so the timing of every ping and pong is exact.
import { describe, expect, it } from 'vitest';
import { BackpressureGuard, FlowState, type CutTrigger } from '../../src/relay/backpressure.js';
import type { SocketData } from '../../src/relay/hub.js';
import type { WebSocket } from '../../src/relay/uws.js';
import { createLogger } from '../../src/logger.js';

/**
 * A socket whose queue stays empty (its bytes wait in the kernel) and whose client answers a ping sent at clock time
 * `at` lagMs(at) later (null: never).
 */
class StandIn {
  readonly data = { topic: 'relay', flow: new FlowState() } as SocketData;
  /** The pings sent and not answered yet, oldest first: payload and clock time. */
  readonly pings: { payload: ArrayBuffer; at: number }[] = [];
  sent = 0;
  ended: number | null = null;
  constructor(
    readonly lagMs: ((at: number) => number) | null,
    private readonly clock: () => number,
  ) {}
  getBufferedAmount(): number {
    return 0;
  }
  ping(payload: Uint8Array): number {
    this.pings.push({ payload: payload.slice().buffer, at: this.clock() });
    this.sent++;
    return 1;
  }
  get ws(): WebSocket<SocketData> {
    return this as unknown as WebSocket<SocketData>;
  }
}

/**
 * The guard's per-socket numbers are small integers (FlowState): a 32-bit integer is a V8 Smi on Node's 64-bit builds,
 * anything else a heap number of its own in every socket.
 */
function expectSmall(s: StandIn): void {
  for (const field of ['untilCheck', 'drainedAt', 'busySince', 'pingBytes', 'readTo', 'owingSince', 'secret'] as const) {
    const value = s.data.flow[field];
    expect(Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31, `${field} = ${value}`).toBe(true);
  }
}

const SOFT = 512 * 1024;
const CHUNK = 16 * 1024;

/** @param chunk bytes published every 20 ms (16 KiB: 800 KB/s) */
function guarded(readTimeoutMs: number, chunk = CHUNK) {
  let now = 0;
  const cuts: CutTrigger[] = [];
  const guard = new BackpressureGuard({
    maxBytes: 2 * SOFT,
    softBytes: SOFT,
    maxStallMs: 0,
    readTimeoutMs,
    budgetBytes: 1 << 30,
    lingerMs: 20_000,
    now: () => now,
    logger: createLogger('silent'),
    observer: { cut: (trigger) => cuts.push(trigger) },
    cutter: () => ({
      endSocket: (ws, _reason, code) => end(ws, code),
      dropSocket: (ws) => end(ws, 1006),
    }),
  });
  const sockets: StandIn[] = [];
  const end = (ws: WebSocket<SocketData>, code: number): void => {
    const s = ws as unknown as StandIn;
    s.ended = code;
    guard.closed(ws, s.data);
  };
  const socket = (lagMs: ((at: number) => number) | null): StandIn => {
    const s = new StandIn(lagMs, () => now);
    guard.opened(s.ws, s.data);
    sockets.push(s);
    return s;
  };
  // The publisher reads its own messages (relay.echo) and answers at once.
  const publisher = socket(() => 0);
  return {
    guard,
    cuts,
    socket,
    /** Moves the clock on by `ms` (a multiple of 20) with nothing published. */
    advance(ms: number): void {
      now += ms;
    },
    /**
     * `chunk` published every 20 ms (16 KiB: 800 KB/s into every socket) for `ms`, the guard sweeping every 100 ms, each client
     * answering its pings when its lag has passed. Returns when the first socket was ended (clock ms), or -1.
     */
    run(ms: number, each: () => void = () => {}): number {
      let firstEnd = -1;
      for (const stop = now + ms; now < stop; now += 20) {
        guard.allow(publisher.data, chunk);
        if (now % 100 === 0) guard.sweep();
        for (const s of sockets) {
          while (s.lagMs !== null && s.pings.length > 0 && now - s.pings[0]!.at >= s.lagMs(s.pings[0]!.at)) guard.ponged(s.data, s.pings.shift()!.payload);
        }
        each();
        if (firstEnd < 0 && cuts.length > 0) firstEnd = now;
      }
      return firstEnd;
    },
  };
}

describe('read receipts', () => {
  it('end a client that answers no ping for read_timeout_s once the soft limit was sent past what it read', () => {
    const relay = guarded(1000);
    const stalled = relay.socket(null);
    const endedAt = relay.run(5000);
    expect(stalled.ended).toBe(4008);
    expect(relay.cuts).toEqual(['soft_limit']);
    // Its first ping went out once a quarter of the soft limit was sent (~160 ms); it was ended a second later.
    expect(endedAt).toBeGreaterThanOrEqual(1000);
    expect(endedAt).toBeLessThanOrEqual(1400);
  });

  it('keep a reader that is behind but answers within read_timeout_s, and ask it again after each answer', () => {
    const relay = guarded(1000);
    // After 2 s it falls behind until it answers each ping 0.9 s after it was sent; its queue is the kernel's.
    const late = relay.socket((at) => Math.min(900, Math.max(0, (at - 2000) / 2)));
    relay.run(10_000);
    expect(late.ended).toBeNull();
    expect(relay.cuts).toEqual([]);
    // One ping at a time: the next once this one is answered.
    expect(late.sent).toBeGreaterThan(10);
    expect(late.pings.length).toBeLessThanOrEqual(1);
  });

  it('end a reader whose answers come later than read_timeout_s', () => {
    const relay = guarded(1000);
    const late = relay.socket((at) => Math.min(1500, Math.max(0, (at - 2000) / 2)));
    relay.run(10_000);
    expect(late.ended).toBe(4008);
  });

  it('end a reader answering a little over read_timeout_s late once the soft limit was sent past its previous answer (the README’s figures)', () => {
    // Its previous answer is a ping interval older than the late one: at the defaults, 1.1 s late is ended at 300 KB/s
    // and kept at 200 KB/s; 1.5 s late is ended at 200 KB/s.
    const outcome = (lagMs: number, bytesPerS: number): number | null => {
      const relay = guarded(1000, bytesPerS / 50);
      const reader = relay.socket(() => lagMs);
      relay.run(20_000);
      return reader.ended;
    };
    expect(outcome(1100, 300_000)).toBe(4008);
    expect(outcome(1100, 200_000)).toBeNull();
    expect(outcome(1500, 200_000)).toBe(4008);
    expect(outcome(900, 800_000)).toBeNull();
  });

  it('ignore a pong other than the one asked for, and uWS’s own empty keep-alive pongs', () => {
    const relay = guarded(1000);
    const liar = relay.socket(null);
    relay.run(2000, () => {
      relay.guard.ponged(liar.data, new Float64Array([Number.MAX_SAFE_INTEGER]).buffer);
      relay.guard.ponged(liar.data, new ArrayBuffer(0));
    });
    expect(liar.ended).toBe(4008);
  });

  it('do not count a receipt copied from another socket of the room: each socket has a secret of its own', () => {
    const relay = guarded(1000);
    // The reader answers promptly and keeps nothing; the forger never reads and answers with the reader's receipts,
    // which carry the same byte count as its own.
    const reader = relay.socket(null);
    const forger = relay.socket(null);
    relay.run(5000, () => {
      for (const ping of reader.pings.splice(0)) {
        relay.guard.ponged(reader.data, ping.payload);
        relay.guard.ponged(forger.data, ping.payload);
      }
    });
    expect(reader.ended).toBeNull();
    expect(forger.ended).toBe(4008);
  });

  it('do not count a receipt forged with a secret read from an earlier ping: each ping has a secret of its own', () => {
    const relay = guarded(1000);
    // The forger reads its first ping and answers it, then reads nothing more; it answers every later ping with the
    // byte count of the reader's receipt (the same room, the same count) and the secret it read.
    const reader = relay.socket(null);
    const forger = relay.socket(null);
    let learned: Uint8Array | null = null;
    relay.run(5000, () => {
      if (learned === null && forger.pings.length > 0) {
        const first = forger.pings.shift()!.payload;
        learned = new Uint8Array(first.slice(8));
        relay.guard.ponged(forger.data, first);
      }
      for (const ping of reader.pings.splice(0)) {
        relay.guard.ponged(reader.data, ping.payload);
        if (learned === null) continue;
        const forged = new Uint8Array(ping.payload.slice(0));
        forged.set(learned, 8);
        relay.guard.ponged(forger.data, forged.buffer);
      }
    });
    expect(learned).not.toBeNull();
    expect(reader.ended).toBeNull();
    expect(forger.ended).toBe(4008);
  });

  it('keep every per-socket number a 32-bit integer past 24 days of uptime and gigabytes sent to a room, and still count receipts', () => {
    // 256 MiB a message: the room's count passes 2 ** 31 within 200 ms and its positions are moved down again and again,
    // between a ping and its answer too.
    const relay = guarded(1000, 2 ** 28);
    let lagMs = 40;
    const reader = relay.socket(() => lagMs);
    const stalled = relay.socket(null);
    const drained = (): void => relay.guard.drained(reader.data);
    relay.run(3000, drained);
    expect(stalled.ended).toBe(4008);
    expect(reader.ended).toBeNull();
    expectSmall(reader);
    // Every ping answered, then 25 days without a message: the guard's clock is past 2 ** 31 ms.
    lagMs = 0;
    relay.run(100, drained);
    relay.advance(25 * 86_400_000);
    const late = relay.socket(null);
    relay.run(500, () => {
      drained();
      if (late.ended === null) expectSmall(late);
    });
    expect(late.sent).toBeGreaterThan(0);
    relay.run(2000, drained);
    expect(late.ended).toBe(4008);
    expect(reader.ended).toBeNull();
    expectSmall(reader);
  });

  it('are off with read_timeout_s 0: no pings, and what waits in the kernel ends nobody', () => {
    const relay = guarded(0);
    const stalled = relay.socket(null);
    relay.run(5000);
    expect(stalled.sent).toBe(0);
    expect(stalled.ended).toBeNull();
  });
});
