// The process-wide draining flag: a uWS thread that has not been told of the drain yet (its listener still open) refuses
// upgrades, and fails its health check, from the moment any thread set the flag in the shared gate state.
import { describe, expect, it, onTestFinished } from 'vitest';
import { CapacityGate, connectionCap, GateState } from '../../src/capacity/gate.js';
import { parseConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { loadUwsBuild } from '../../src/relay/uws.js';
import { Shard } from '../../src/workers/shard.js';
import { HandshakeRefused, TestClient } from '../helpers/client.js';

/** Thread 1 of a two-thread process (no connection cap), listening on a free port, with its gate on `buffer`. */
async function secondThread(buffer: SharedArrayBuffer): Promise<{ shard: Shard; port: number; refusedDraining: () => Promise<number> }> {
  const config = parseConfig({ server: { host: '127.0.0.1', port: 0 } });
  const metrics = createMetrics(null);
  const shard = new Shard({
    config,
    build: loadUwsBuild(),
    logger: createLogger('silent'),
    registry: metrics.registry,
    counters: metrics.counters,
    observer: metrics,
    gate: new CapacityGate(new GateState(buffer, 1), connectionCap(0, null), 1),
    defaultBudget: () => 64 * 1024 * 1024,
    threads: 2,
  });
  onTestFinished(() => shard.close());
  const refusedDraining = async (): Promise<number> => {
    const json = await metrics.registry.getSingleMetric('relay_upgrades_rejected_total')!.get();
    return json.values.find((v) => v.labels.reason === 'draining')?.value ?? 0;
  };
  return { shard, port: await shard.hub.listen('127.0.0.1', 0), refusedDraining };
}

describe('the draining flag in the shared gate state', () => {
  it('makes a thread not told of the drain yet refuse upgrades with 503 draining and answer /healthz 503', async () => {
    const buffer = GateState.allocate(2);
    const { port, refusedDraining } = await secondThread(buffer);
    const url = `ws://127.0.0.1:${port}`;
    const before = new TestClient(url);
    onTestFinished(async () => {
      await before.terminate();
    });
    await before.opened(10_000);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    // The main thread begins the drain; this thread's hub has not been asked to stop accepting.
    new GateState(buffer, 0).drain();

    const late = new TestClient(url);
    onTestFinished(async () => {
      await late.terminate();
    });
    const refusal = await late.opened(10_000).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refusal).toBeInstanceOf(HandshakeRefused);
    expect((refusal as HandshakeRefused).status).toBe(503);
    expect(await refusedDraining()).toBe(1);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect([health.status, await health.text()]).toEqual([503, 'draining\n']);
  });
});
