// relay_deliveries_total: per relayed message, the subscribers of its topic (the sender excluded without echo).
import { describe, expect, it } from 'vitest';
import { connectMany } from '../helpers/client.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { REDIS_SERVER, startRedis } from '../helpers/redis.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { describeNeeding } from '../helpers/required.js';
import { until } from '../helpers/wait.js';

const deliveries = async (relay: TestRelay): Promise<number | undefined> =>
  metricValue(await scrape(relay.metricsUrl), 'relay_deliveries_total');

describe('relay_deliveries_total', () => {
  it('counts every subscriber reached, the sender included with echo', async () => {
    const relay = await startRelay();
    expect(await deliveries(relay)).toBe(0);
    const [a, b, c] = await connectMany(relay.url, 3);
    a!.send('one');
    b!.send(Buffer.from([1, 2]), true);
    // Each uWS thread counts the deliveries it makes: once every client has both, every thread holding one has.
    await Promise.all([a, b, c].map((x) => x!.received(2)));
    expect(await deliveries(relay)).toBe(6);
    await c!.close();
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_connections_active') === 2, 5000, 'two left');
    a!.send('two');
    await Promise.all([a!.received(3), b!.received(3)]);
    expect(await deliveries(relay)).toBe(8);
  });

  it('leaves the sender out without echo, and counts per room', async () => {
    const relay = await startRelay({ relay: { echo: false, rooms: true } });
    const [a1, a2, a3] = await connectMany(`${relay.url}/a`, 3);
    const [b1, b2] = await connectMany(`${relay.url}/b`, 2);
    a1!.send('to a');
    b1!.send('to b');
    await Promise.all([a2!.received(1), a3!.received(1), b2!.received(1)]);
    expect(await deliveries(relay)).toBe(2 + 1);
  });

  it('counts a room that emptied and filled again by its new members only', async () => {
    const relay = await startRelay({ relay: { rooms: true } });
    const [old1, old2] = await connectMany(`${relay.url}/r`, 2);
    old1!.send('before');
    await old2!.received(1);
    expect(await deliveries(relay)).toBe(2);
    await Promise.all([old1!.close(), old2!.close()]);
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_connections_active') === 0, 5000, 'the room to empty');
    const [n1, n2, n3] = await connectMany(`${relay.url}/r`, 3);
    n1!.send('after');
    await Promise.all([n2!.received(1), n3!.received(1)]);
    expect(await deliveries(relay)).toBe(2 + 3);
  });
});

const NO_REDIS = REDIS_SERVER === null ? 'redis-server not on PATH (apt-get install redis-server; .ci/run installs it)' : null;
describeNeeding(NO_REDIS, 'relay_deliveries_total across instances', () => {
  it('counts messages from the backplane once per local subscriber', async () => {
    const redis = await startRedis();
    const cluster = { backplane: 'redis', redis: { url: redis.url } } as const;
    const [one, two] = await Promise.all([startRelay({ cluster }), startRelay({ cluster })]);
    await until(() => one.readiness.ready && two.readiness.ready, 10_000, 'both backplanes to connect');
    const [sender] = await connectMany(one.url, 1);
    const [r1, r2, r3] = await connectMany(two.url, 3);
    sender!.send('across');
    await Promise.all([sender!.received(1), r1!.received(1), r2!.received(1), r3!.received(1)]);
    expect(await deliveries(one)).toBe(1);
    await until(async () => (await deliveries(two)) === 3, 5000, 'three deliveries on the second instance');
  });
});
