// Seeded fuzzing: valid client frames, mutated (bit flips, truncation, junk, bad lengths), sent after a real
// handshake. The relay must never crash, never stop serving, and its gauge must return to the true count.
// Replay a failure with RELAY_FUZZ_SEED=<seed printed in the test name>.
import { describe, expect, it } from 'vitest';
import { TestClient } from '../../helpers/client.js';
import { expectActiveConnections, expectServesFreshClient } from '../../helpers/health.js';
import { Opcode, RawSocket, closePayload, frame } from '../../helpers/raw.js';
import { startRelay } from '../../helpers/relay.js';
import { randomBytes, seededRandom } from '../../helpers/seeded.js';
import { until } from '../../helpers/wait.js';

const SEED = Number(process.env['RELAY_FUZZ_SEED'] ?? 0x5eed);
const ITERATIONS = 1000;
const BATCH = 20;

const VALID: Buffer[] = [
  frame({ opcode: Opcode.text, payload: 'hello relay' }),
  frame({ opcode: Opcode.binary, payload: Buffer.alloc(200, 7) }),
  frame({ opcode: Opcode.binary, payload: Buffer.alloc(300, 9) }), // 16-bit length form
  frame({ opcode: Opcode.ping, payload: 'p' }),
  frame({ opcode: Opcode.pong, payload: 'q' }),
  frame({ opcode: Opcode.close, payload: closePayload(1000, 'bye') }),
  Buffer.concat([frame({ opcode: Opcode.text, fin: false, payload: 'frag' }), frame({ opcode: Opcode.continuation, payload: 'ment' })]),
];

type Mutation = (b: Buffer, random: () => number) => Buffer;
const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)] as T;

const MUTATIONS: Record<string, Mutation> = {
  flipHeaderBit: (b, r) => {
    const out = Buffer.from(b);
    const i = Math.floor(r() * Math.min(out.length, 8));
    out[i] = (out[i] ?? 0) ^ (1 << Math.floor(r() * 8));
    return out;
  },
  flipAnyBit: (b, r) => {
    const out = Buffer.from(b);
    const i = Math.floor(r() * out.length);
    out[i] = (out[i] ?? 0) ^ (1 << Math.floor(r() * 8));
    return out;
  },
  randomByte: (b, r) => {
    const out = Buffer.from(b);
    out[Math.floor(r() * out.length)] = Math.floor(r() * 256);
    return out;
  },
  truncate: (b, r) => b.subarray(0, Math.floor(r() * b.length)),
  appendJunk: (b, r) => Buffer.concat([b, randomBytes(r, 1 + Math.floor(r() * 32))]),
  lengthLie: (b, r) => {
    const out = Buffer.from(b);
    out[1] = ((out[1] ?? 0) & 0x80) | pick([0, 1, 125, 126, 127], r);
    return out;
  },
  repeat: (b) => Buffer.concat([b, b, b]),
  junkOnly: (_b, r) => randomBytes(r, 1 + Math.floor(r() * 64)),
};

describe(`fuzzed frames (seed ${SEED})`, () => {
  it(`${ITERATIONS} mutated frames leave the relay serving, with a true connection count`, async () => {
    // Rate limits on, so the limiter sees the mutants too (its budget is far above what the canary sends).
    const relay = await startRelay({ relay: { max_payload_bytes: 4096 }, limits: { max_messages_per_second: 1000, max_bytes_per_second: 1_000_000 } });
    const canary = await new TestClient(relay.url).opened();
    const random = seededRandom(SEED);
    const names = Object.keys(MUTATIONS);
    for (let done = 0; done < ITERATIONS; done += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: BATCH }, async () => {
          const mutation = MUTATIONS[pick(names, random)] as Mutation;
          let bytes = mutation(pick(VALID, random), random);
          if (random() < 0.3) bytes = (MUTATIONS[pick(names, random)] as Mutation)(bytes, random);
          const raw = await RawSocket.open(relay.wsPort);
          expect((await raw.handshake()).status).toBe(101);
          raw.write(bytes);
          return raw;
        }),
      );
      // The relay is alive and relaying after every batch.
      const marker = `after ${done + BATCH}`;
      canary.send(marker);
      await until(() => canary.inbox.some((m) => m.text === marker), 5000, `the canary's "${marker}" echo`);
      for (const raw of batch) raw.socket.destroy();
    }
    await expectActiveConnections(relay, 1);
    await expectServesFreshClient(relay);
    await canary.close();
  }, 60_000);
});
