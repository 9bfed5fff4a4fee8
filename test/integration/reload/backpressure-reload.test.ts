// The slow-consumer limits reload live: the soft limit, the stall time and the total budget apply to connections
// already open, the budget gauge follows, and a soft limit at or over the hard one in force is refused.
import { describe, expect, it } from 'vitest';
import { metricValue, scrape } from '../../helpers/metrics.js';
import { rawUpgrade } from '../../helpers/raw.js';
import { startReloadable } from '../../helpers/reloadable.js';
import { until } from '../../helpers/wait.js';
import WebSocket from 'ws';

describe('slow-consumer limits on reload', () => {
  it('max_stall_s, soft_backpressure_bytes and max_total_backpressure_bytes are applied; a client already open is ended under the new stall time', async () => {
    // Stall detection off and a soft limit far above what one stalled client is sent here: nothing would end it.
    // One uWS thread: the stalled client's guard is the one the test reads.
    const relay = await startReloadable({
      server: { workers: 1 },
      relay: { max_stall_s: 0, max_backpressure_bytes: 64 * 1024 * 1024, soft_backpressure_bytes: 32 * 1024 * 1024 },
    });
    const stalled = await rawUpgrade(relay.wsPort);
    stalled.pause();
    const publisher = new WebSocket(relay.url);
    await new Promise((resolve, reject) => publisher.once('open', resolve).once('error', reject));
    const chunk = Buffer.alloc(16 * 1024, 9);
    // Until uWS queues for the stalled client (the kernel's buffers toward it are full).
    await until(
      async () => {
        for (let i = 0; i < 32; i++) publisher.send(chunk);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return relay.backpressure.state.queuedBytes > 0;
      },
      15_000,
      'a queue toward the stalled client',
    );
    expect(relay.backpressure.state.cuts.stall).toBe(0);

    relay.write({
      server: { workers: 1 },
      relay: { max_stall_s: 0.5, max_backpressure_bytes: 64 * 1024 * 1024, soft_backpressure_bytes: 16 * 1024 * 1024, max_total_backpressure_bytes: 512 * 1024 * 1024 },
    });
    const result = relay.reload('SIGHUP');
    expect(result).toMatchObject({ ok: true, restartOnly: [] });
    expect([...result.applied].sort()).toEqual(['relay.max_stall_s', 'relay.max_total_backpressure_bytes', 'relay.soft_backpressure_bytes']);
    expect(relay.backpressure.limits).toMatchObject({ softBytes: 16 * 1024 * 1024, maxStallMs: 500, budgetBytes: 512 * 1024 * 1024 });
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_backpressure_budget_bytes')).toBe(512 * 1024 * 1024);
    await until(() => relay.backpressure.state.cuts.stall === 1, 5000, 'the stalled client to be ended under the new max_stall_s', 20);
    publisher.terminate();
  });

  it('a soft limit at or over the max_backpressure_bytes in force is refused, naming the key; nothing changes', async () => {
    const relay = await startReloadable({ relay: { max_backpressure_bytes: 1024 * 1024 } });
    // Valid on its own (the new hard limit is higher), but the hard limit needs a restart.
    relay.write({ relay: { max_backpressure_bytes: 4 * 1024 * 1024, soft_backpressure_bytes: 2 * 1024 * 1024 } });
    const result = relay.reload('SIGHUP');
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(['relay.soft_backpressure_bytes: must be less than max_backpressure_bytes in force (1048576 until a restart)']);
    expect(relay.backpressure.limits.softBytes).toBe(512 * 1024);
  });

  it('with several uWS threads, every thread takes the new limits; the budget gauge sums their shares', async () => {
    const relay = await startReloadable({ server: { workers: 2 }, relay: { max_total_backpressure_bytes: 64 * 1024 * 1024 } });
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_backpressure_budget_bytes')).toBe(64 * 1024 * 1024);
    relay.write({ server: { workers: 2 }, relay: { max_total_backpressure_bytes: 256 * 1024 * 1024, max_stall_s: 3, read_timeout_s: 0.25 } });
    expect(relay.reload('SIGHUP')).toMatchObject({ ok: true, restartOnly: [] });
    expect(relay.backpressure.limits).toMatchObject({ budgetBytes: 128 * 1024 * 1024, maxStallMs: 3000, readTimeoutMs: 250 });
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_backpressure_budget_bytes')).toBe(256 * 1024 * 1024);
  });
});
