// limits.max_upgrades_per_second: a flood of upgrade requests beyond the node-wide budget gets 503.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { HandshakeRefused, TestClient } from '../../helpers/client.js';
import { expectActiveConnections, rejected } from '../../helpers/health.js';
import { startRelay } from '../../helpers/relay.js';
import { until } from '../../helpers/wait.js';

describe('upgrade flood', () => {
  it('admits one second’s worth at once, refuses the rest with 503 and Retry-After, then recovers', async () => {
    const relay = await startRelay({ limits: { max_upgrades_per_second: 5 } });
    const started = performance.now();
    const clients = Array.from({ length: 40 }, () => new TestClient(relay.url));
    const results = await Promise.allSettled(clients.map((c) => c.opened()));
    const elapsedS = (performance.now() - started) / 1000;
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as HandshakeRefused] : []));
    const admitted = clients.length - refused.length;
    // The burst of 5, plus what the budget refilled (5/s) while the burst was being handled.
    expect(admitted).toBeGreaterThanOrEqual(5);
    expect(admitted).toBeLessThanOrEqual(5 + Math.ceil(5 * elapsedS));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e instanceof HandshakeRefused && e.status === 503 && e.headers['retry-after'] === '1')).toBe(true);
    expect(await rejected(relay, 'upgrade_rate')).toBe(refused.length);
    await expectActiveConnections(relay, admitted);
    // The budget refills: a later client gets in.
    await until(async () => (await new TestClient(relay.url).opened().then((c) => (clients.push(c), true), () => false)), 5000, 'the budget to refill');
    await Promise.all(clients.map((c) => c.terminate()));
  });
});
