// The mesh's links are bounded: a thread that does not take what another thread hands it makes that thread drop (and
// count) messages instead of queueing them without end, and the count is a series an operator sees.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerLinkDrops } from '../../src/metrics/threads.js';
import { TopicInterest } from '../../src/workers/interest.js';
import { LINK_MAX_PENDING_BYTES, Mesh, linkBound } from '../../src/workers/mesh.js';
import { meshEnds } from '../../src/workers/pool.js';

describe('mesh links', () => {
  it('drop and count what a thread that does not keep up would have to queue past the link bound', async () => {
    const ends = meshEnds(2);
    const table = TopicInterest.allocate(2);
    // Thread 1 has a subscriber for the topic but never takes anything from its link (its receiver is never opened).
    new TopicInterest(table, 1).joined('/r');
    const mesh = new Mesh(ends[0]!, new TopicInterest(table, 0), LINK_MAX_PENDING_BYTES);
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

  it('share a quarter of the slow-consumer budget between all links of the process, within 1 to 64 MiB each', () => {
    const MiB = 1024 * 1024;
    // 2 threads, 2 links: a 512 MiB container's default budget (a quarter of it) leaves 16 MiB each.
    expect(linkBound(128 * MiB, 2)).toBe(16 * MiB);
    // A large budget is capped per link; 16 threads (240 links) then hold at most 240 x 64 MiB only if the budget
    // allows it: with 6 GiB, 6.4 MiB each (1.5 GiB in all, a quarter of the budget).
    expect(linkBound(64 * 1024 * MiB, 2)).toBe(LINK_MAX_PENDING_BYTES);
    expect(linkBound(6 * 1024 * MiB, 16)).toBe(Math.floor((6 * 1024 * MiB) / 4 / 240));
    expect(linkBound(8 * MiB, 16)).toBe(MiB);
  });
});
