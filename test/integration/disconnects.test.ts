// Every way a connection ends: the right close code for the client, the right reason in the counter,
// the active gauge back to the true count, and nobody else disturbed.
import { describe, expect, it } from 'vitest';
import { connectMany, TestClient } from '../helpers/client.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { rawUpgrade } from '../helpers/rawsocket.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { until } from '../helpers/wait.js';

async function disconnections(relay: TestRelay, reason: string): Promise<number> {
  return metricValue(await scrape(relay.metricsUrl), 'relay_disconnections_total', { reason }) ?? 0;
}

async function active(relay: TestRelay): Promise<number> {
  return metricValue(await scrape(relay.metricsUrl), 'relay_connections_active') ?? -1;
}

/** The relay still relays between two other clients. */
async function stillRelays(bystander: TestClient, expected: number): Promise<void> {
  bystander.send('still here');
  const inbox = await bystander.received(expected);
  expect(inbox.at(-1)!.text).toBe('still here');
}

describe('disconnects', () => {
  it('a client close frame is counted as client_close, its code reaches the relay, and the gauge follows', async () => {
    const relay = await startRelay();
    const [a, b] = await connectMany(relay.url, 2);
    expect(await active(relay)).toBe(2);
    await a!.close(4000, 'bye');
    await until(async () => (await active(relay)) === 1, 5000, 'gauge to drop to 1');
    expect(await disconnections(relay, 'client_close')).toBe(1);
    await stillRelays(b!, 1);
  });

  it('a TCP drop without a close frame is counted as client_close', async () => {
    const relay = await startRelay();
    const [a] = await connectMany(relay.url, 2);
    await a!.terminate();
    await until(async () => (await active(relay)) === 1, 5000, 'gauge to drop to 1');
    expect(await disconnections(relay, 'client_close')).toBe(1);
  });

  it('a message one byte over max_payload_bytes gets a 1009 close frame; only the sender is closed', async () => {
    const relay = await startRelay({ relay: { max_payload_bytes: 1024 } });
    const [offender, bystander] = await connectMany(relay.url, 2);
    offender!.send(Buffer.alloc(1025), true);
    expect((await offender!.closed).code).toBe(1009);
    await until(async () => (await active(relay)) === 1, 5000, 'gauge to drop to 1');
    expect(await disconnections(relay, 'payload_too_big')).toBe(1);
    await stillRelays(bystander!, 1);
    expect(bystander!.inbox).toHaveLength(1); // the oversized message was never relayed
  });

  it('a message of exactly max_payload_bytes is relayed', async () => {
    const relay = await startRelay({ relay: { max_payload_bytes: 1024 } });
    const [sender, receiver] = await connectMany(relay.url, 2);
    sender!.send(Buffer.alloc(1024, 7), true);
    expect((await receiver!.received(1))[0]!.data.length).toBe(1024);
  });

  it('a message far above the limit is dropped at the TCP level by uWS (1006), still counted as payload_too_big', async () => {
    const relay = await startRelay({ relay: { max_payload_bytes: 1024 } });
    const [offender, bystander] = await connectMany(relay.url, 2);
    offender!.send(Buffer.alloc(1024 * 1024), true);
    expect((await offender!.closed).code).toBe(1006);
    await until(async () => (await disconnections(relay, 'payload_too_big')) === 1, 5000, 'payload_too_big to be counted');
    expect(await active(relay)).toBe(1);
    await stillRelays(bystander!, 1);
  });

  it('invalid UTF-8 in a text frame closes only the sender, counted as invalid_utf8', async () => {
    const relay = await startRelay();
    const [offender, bystander] = await connectMany(relay.url, 2);
    offender!.ws.send(Buffer.from([0x68, 0xff, 0xfe, 0x69]), { binary: false });
    expect((await offender!.closed).code).toBe(1006);
    await until(async () => (await disconnections(relay, 'invalid_utf8')) === 1, 5000, 'invalid_utf8 to be counted');
    expect(await active(relay)).toBe(1);
    await stillRelays(bystander!, 1);
    expect(bystander!.inbox).toHaveLength(1);
  });

  it('a client that stops reading is dropped as slow_consumer while a fast client keeps receiving everything', async () => {
    const maxBackpressure = 64 * 1024;
    const relay = await startRelay({ relay: { max_backpressure_bytes: maxBackpressure } });
    const slow = await rawUpgrade(relay.wsPort);
    slow.pause(); // never read: the kernel buffers fill, then uWS queues up to max_backpressure_bytes
    const fast = await new TestClient(relay.url).opened();
    const rssBefore = process.memoryUsage().rss;
    const chunk = Buffer.alloc(16 * 1024, 1);
    const rounds = 1024; // 16 MiB in all, 256 times the backpressure limit
    let delivered = 0;
    for (let i = 0; i < rounds; i++) {
      fast.send(chunk, true);
      if (i % 64 === 63) {
        delivered += 64;
        await fast.received(delivered, 15_000);
      }
    }
    await fast.received(rounds, 15_000);
    await until(async () => (await disconnections(relay, 'slow_consumer')) === 1, 5000, 'slow_consumer to be counted');
    expect(await active(relay)).toBe(1);
    // Nothing of the 16 MiB stayed queued for the slow client.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(48 * 1024 * 1024);
    slow.destroy();
  });

  it('a silent client is closed after idle_timeout_s, counted as idle_timeout', { timeout: 40_000 }, async () => {
    const relay = await startRelay({ relay: { idle_timeout_s: 8 } });
    const silent = await rawUpgrade(relay.wsPort); // never answers pings
    silent.resume();
    const live = await new TestClient(relay.url).opened(); // ws answers pings automatically
    await until(async () => (await disconnections(relay, 'idle_timeout')) === 1, 30_000, 'idle_timeout to be counted', 250);
    expect(await active(relay)).toBe(1);
    await stillRelays(live, 1);
    silent.destroy();
  });

  it('shutdown closes every client with 1001, counted as shutdown', async () => {
    const relay = await startRelay();
    const clients = await connectMany(relay.url, 5);
    const closing = relay.close();
    const codes = await Promise.all(clients.map(async (c) => (await c.closed).code));
    await closing;
    expect(codes).toEqual([1001, 1001, 1001, 1001, 1001]);
    expect(relay.hub.connections).toBe(0);
    expect(relay.metrics.counters.messages).toBe(0);
    const text = await relay.metrics.registry.metrics();
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'shutdown' })).toBe(5);
    expect(metricValue(text, 'relay_connections_active')).toBe(0);
  });

  it('counters only go up and the gauge matches the open sockets after a mix of disconnects', async () => {
    const relay = await startRelay({ relay: { max_payload_bytes: 100 } });
    const clients = await connectMany(relay.url, 6);
    await clients[0]!.close();
    await clients[1]!.terminate();
    clients[2]!.send(Buffer.alloc(101), true);
    await clients[2]!.closed;
    await until(async () => (await active(relay)) === 3, 5000, 'three clients left');
    const text = await scrape(relay.metricsUrl);
    expect(metricValue(text, 'relay_connections_total')).toBe(6);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'client_close' })).toBe(2);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'payload_too_big' })).toBe(1);
  });
});
