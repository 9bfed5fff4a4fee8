// limits.max_messages_per_second / max_bytes_per_second: per-connection token buckets; over budget = close 1008 or drop.
import { describe, expect, it } from 'vitest';
import { TestClient } from '../../helpers/client.js';
import { disconnections, expectActiveConnections } from '../../helpers/health.js';
import { metricValue, scrape } from '../../helpers/metrics.js';
import { startRelay } from '../../helpers/relay.js';
import { until, within } from '../../helpers/wait.js';

describe('per-connection rate limits', () => {
  it('closes a flooding client with 1008 and counts it; a neighbour keeps relaying', async () => {
    const relay = await startRelay({ relay: { echo: false }, limits: { max_messages_per_second: 1, burst_messages: 10 } });
    const flooder = await new TestClient(relay.url).opened();
    const neighbour = await new TestClient(relay.url).opened();
    const watcher = await new TestClient(relay.url).opened();
    for (let i = 0; i < 50; i++) flooder.send(`flood ${i}`);
    expect(await within(flooder.closed, 5000, 'the 1008 close')).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    expect(await disconnections(relay, 'rate_limited')).toBe(1);
    // The burst got through, the rest did not.
    await watcher.received(10);
    neighbour.send('neighbour');
    await until(() => watcher.inbox.some((m) => m.text === 'neighbour'), 5000, "the neighbour's message");
    expect(watcher.inbox.filter((m) => m.text.startsWith('flood'))).toHaveLength(10);
    await expectActiveConnections(relay, 2);
    await Promise.all([neighbour.close(), watcher.close()]);
  });

  it('drop mode: excess messages are dropped and counted, the connection stays open', async () => {
    const relay = await startRelay({ limits: { max_messages_per_second: 1, burst_messages: 3, on_rate_exceeded: 'drop' } });
    const sender = await new TestClient(relay.url).opened();
    for (let i = 0; i < 20; i++) sender.send(`m${i}`);
    sender.send('last');
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_rate_limited_messages_total') !== undefined &&
      (metricValue(await scrape(relay.metricsUrl), 'relay_rate_limited_messages_total') ?? 0) >= 17, 5000, 'the dropped counter');
    await sender.received(3);
    expect(sender.inbox.slice(0, 3).map((m) => m.text)).toEqual(['m0', 'm1', 'm2']);
    expect(sender.ws.readyState).toBe(sender.ws.OPEN);
    expect(await disconnections(relay, 'rate_limited')).toBe(0);
    // The budget refills and the same connection is relayed again.
    await until(async () => {
      sender.send('later');
      return sender.inbox.some((m) => m.text === 'later');
    }, 5000, 'the budget to refill', 200);
    await sender.close();
  });

  it('byte budget: a client sending too many bytes is closed, small senders are not', async () => {
    const relay = await startRelay({ limits: { max_bytes_per_second: 10_000, burst_bytes: 20_000 } });
    const big = await new TestClient(relay.url).opened();
    const small = await new TestClient(relay.url).opened();
    for (let i = 0; i < 10; i++) big.send(Buffer.alloc(5000, 1));
    expect((await within(big.closed, 5000, 'the 1008 close')).code).toBe(1008);
    for (let i = 0; i < 10; i++) small.send('tiny');
    await until(() => small.inbox.filter((m) => m.text === 'tiny').length === 10, 5000, 'the small messages');
    await small.close();
    expect(await disconnections(relay, 'rate_limited')).toBe(1);
  });

  it('a message larger than the byte burst passes from a full bucket (slowed, not refused forever), and leaves it in debt', async () => {
    const relay = await startRelay({ limits: { max_bytes_per_second: 1000, burst_bytes: 1000, on_rate_exceeded: 'drop' } });
    const client = await new TestClient(relay.url).opened();
    client.send(Buffer.alloc(4000, 2));
    const [echo] = await client.received(1);
    expect(echo?.data.length).toBe(4000);
    // 3,000 bytes in debt at 1,000 bytes/s: the very next message is dropped, however small.
    client.send('next');
    const dropped = async (): Promise<number> => metricValue(await scrape(relay.metricsUrl), 'relay_rate_limited_messages_total') ?? 0;
    await until(async () => (await dropped()) === 1, 5000, 'the next message to be dropped');
    expect(client.inbox.map((m) => m.data.length)).toEqual([4000]);
    await client.close();
  });

  it('applies the same budget when an admission is on too (auth)', async () => {
    const token = 'tok_0123456789abcdef';
    const relay = await startRelay({ security: { auth: 'token', tokens: [token] }, limits: { max_messages_per_second: 1, burst_messages: 2 } });
    const client = await new TestClient(`${relay.url}/?token=${token}`).opened();
    for (let i = 0; i < 5; i++) client.send(`m${i}`);
    expect((await within(client.closed, 5000, 'the 1008 close')).code).toBe(1008);
    expect(client.inbox.map((m) => m.text)).toEqual(['m0', 'm1']);
    expect(await disconnections(relay, 'rate_limited')).toBe(1);
  });

  it('without limits the same flood is relayed in full', async () => {
    const relay = await startRelay();
    const client = await new TestClient(relay.url).opened();
    for (let i = 0; i < 50; i++) client.send(`m${i}`);
    await client.received(50);
    await client.close();
    await expectActiveConnections(relay, 0);
  });
});
