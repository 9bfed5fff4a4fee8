// The mesh's links are bounded: a thread that does not take what another thread hands it makes that thread drop (and
// count) messages instead of queueing them without end, and the count is a series an operator sees.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerLinkDrops } from '../../src/metrics/threads.js';
import { TopicInterest } from '../../src/workers/interest.js';
import { LINK_MAX_PENDING_BYTES, Mesh } from '../../src/workers/mesh.js';
import { meshEnds } from '../../src/workers/pool.js';

describe('mesh links', () => {
  it('drop and count what a thread that does not keep up would have to queue past the link bound', async () => {
    const ends = meshEnds(2);
    const table = TopicInterest.allocate(2);
    // Thread 1 has a subscriber for the topic but never takes anything from its link (its receiver is never opened).
    new TopicInterest(table, 1).joined('/r');
    const mesh = new Mesh(ends[0]!, new TopicInterest(table, 0));
    const registry = new Registry();
    registerLinkDrops(registry, () => mesh.dropped);
    const message = new Uint8Array(1024 * 1024);
    const sends = LINK_MAX_PENDING_BYTES / message.byteLength + 8;
    for (let i = 0; i < sends; i++) {
      expect(mesh.publish('/r', message, true)).toBe(true);
      // Let each turn's envelope go out, as a running thread would.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(mesh.dropped).toBeGreaterThanOrEqual(8);
    expect(mesh.dropped).toBeLessThanOrEqual(9);
    const text = await registry.metrics();
    expect(text).toContain(`relay_thread_link_dropped_messages_total ${mesh.dropped}`);
    mesh.close();
    for (const end of ends[1]!.receivers) if (end.kind === 'port') end.port.close();
  });
});
