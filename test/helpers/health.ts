// Checks that a relay is still healthy after abuse: it serves a fresh client, and its gauge tells the truth.
import { expect } from 'vitest';
import { TestClient } from './client.js';
import { metricValue, scrape } from './metrics.js';
import type { TestRelay } from './relay.js';
import { until } from './wait.js';

/** Opens a new client, gets its own message echoed back, and closes it cleanly. */
export async function expectServesFreshClient(relay: TestRelay, options?: ConstructorParameters<typeof TestClient>[1]): Promise<void> {
  const client = new TestClient(relay.url, options);
  await client.opened();
  client.send('still alive');
  const [echo] = await client.received(1);
  expect(echo?.text).toBe('still alive');
  expect((await client.close(1000)).code).toBe(1000);
}

/** Waits until relay_connections_active (and the relay's own count) equal `expected`, the number of sockets really open. */
export async function expectActiveConnections(relay: TestRelay, expected: number, ms = 5000): Promise<void> {
  let seen: number | undefined;
  await until(
    async () => {
      seen = metricValue(await scrape(relay.metricsUrl), 'relay_connections_active');
      return seen === expected && relay.connections === expected;
    },
    ms,
    `relay_connections_active == ${expected} (last seen ${String(seen)}, relay ${relay.connections})`,
    25,
  );
}

/** The value of relay_upgrades_rejected_total{reason}, 0 when absent. */
export async function rejected(relay: TestRelay, reason: string): Promise<number> {
  return metricValue(await scrape(relay.metricsUrl), 'relay_upgrades_rejected_total', { reason }) ?? 0;
}

/** The value of relay_disconnections_total{reason}, 0 when absent. */
export async function disconnections(relay: TestRelay, reason: string): Promise<number> {
  return metricValue(await scrape(relay.metricsUrl), 'relay_disconnections_total', { reason }) ?? 0;
}
