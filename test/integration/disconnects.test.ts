// Every way a connection ends: the right close code for the client, the right reason in the counter,
// the active gauge back to the true count, and nobody else disturbed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectMany, TestClient } from '../helpers/client.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { rawUpgrade, socketClosed } from '../helpers/raw.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { listening, runCli } from '../helpers/cli.js';
import { until, within } from '../helpers/wait.js';

/** Resident set size of a process (Linux), in bytes. */
function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

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

  it('a client that stops reading is dropped as slow_consumer; the relay holds no more for it, and a fast client gets everything not shed', async () => {
    // The relay runs as its own process so its memory can be measured apart from the test's clients.
    // Two uWS threads whatever the machine's CPU count, and a budget that bounds what the link between them may hold
    // for a thread that lags (a quarter of it over both links: 2 MiB each, instead of up to 64 MiB on a machine whose
    // memory makes the default budget large).
    const sets = [
      'server.host=127.0.0.1', 'server.port=0', 'metrics.host=127.0.0.1', 'metrics.port=0', 'server.workers=2',
      `relay.max_backpressure_bytes=${64 * 1024}`, 'relay.idle_timeout_s=8', `relay.max_total_backpressure_bytes=${16 * 1024 * 1024}`,
    ];
    const run = runCli(sets.flatMap((s) => ['--set', s]));
    const { ws_port, metrics_port } = await listening(run);
    const metricsUrl = `http://127.0.0.1:${metrics_port}/metrics`;
    const slow = await rawUpgrade(ws_port);
    slow.pause(); // never read: the kernel buffers fill, then uWS queues up to max_backpressure_bytes
    const fast = new WebSocket(`ws://127.0.0.1:${ws_port}`);
    let received = 0; // counted, not kept
    fast.on('message', () => {
      received++;
    });
    await new Promise((resolve) => fast.once('open', resolve));
    // Until the stalled client has shown it does not read (250 ms), a queue filling this fast is indistinguishable
    // from a flooded reader's: the publisher's messages are shed at the source meanwhile, and counted.
    const shed = async (): Promise<number> => metricValue(await scrape(metricsUrl), 'relay_shed_messages_total') ?? 0;
    const receivedAtLeast = (n: number): Promise<void> =>
      until(async () => received >= n || received + (await shed()) >= n, 15_000, `${n} messages at the fast client`, 5);

    const rssBefore = rssBytes(run.child.pid!);
    const chunk = Buffer.alloc(16 * 1024, 1);
    const rounds = 4096; // 64 MiB in all, 1,024 times the backpressure limit
    for (let i = 0; i < rounds; i++) {
      fast.send(chunk);
      if (i % 64 === 63) await receivedAtLeast(i + 1);
    }
    await receivedAtLeast(rounds);
    // A client ended at the soft limit is counted when it closes: when it reads its 4008, or, since this one never
    // reads, when uWS's close timeout fires (8 s with idle_timeout_s 8); one cut at the hard limit closes at once.
    const slowConsumers = async (): Promise<number> =>
      metricValue(await scrape(metricsUrl), 'relay_disconnections_total', { reason: 'slow_consumer' }) ?? 0;
    await until(async () => (await slowConsumers()) >= 1, 15_000, 'the slow client to be disconnected', 100);
    const text = await scrape(metricsUrl);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'slow_consumer' })).toBe(1);
    expect(received + (metricValue(text, 'relay_shed_messages_total') ?? 0)).toBe(rounds);
    expect(metricValue(text, 'relay_connections_active')).toBe(1);
    // Had the relay kept queueing for the slow client, it would hold 64 MiB for it. What it grows by is the flood's
    // passage: with two uWS threads the link's buffers, the second thread's heap and its own allocator arena come on
    // top of one thread's (24 MiB measured enough for one, up to 30 for two).
    expect(rssBytes(run.child.pid!) - rssBefore).toBeLessThan(40 * 1024 * 1024);
    fast.close();
    slow.destroy();
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  }, 60_000);

  it('a frame-level protocol violation drops only the offender: protocol_error where uWS names it, else client_close', async () => {
    const relay = await startRelay();
    const offender = await rawUpgrade(relay.wsPort);
    const bystander = await new TestClient(relay.url).opened();
    // FIN + reserved opcode 0x3, masked, empty payload
    offender.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
    await socketClosed(offender);
    await until(async () => (await active(relay)) === 1, 5000, 'the offender to be gone');
    // uWS 20.57 says "Received invalid WebSocket frame"; 20.30 gives no text, exactly as for a TCP drop.
    const reason = relay.uws.features.namesAbnormalCloses ? 'protocol_error' : 'client_close';
    expect(await disconnections(relay, reason)).toBe(1);
    await stillRelays(bystander, 1);
  });

  it('a handler failure closes only that socket with 1011, counted as error', async () => {
    const relay = await startRelay(
      // A limiter of its own runs on the main thread only (see the workers suite).
      { server: { workers: 1 } },
      {
        extensions: () => ({
          limiter: {
            create: () => null,
            check: (_state, bytes) => {
              if (bytes === 13) throw new Error('limiter bug');
              return { action: 'relay' };
            },
          },
        }),
      },
    );
    const [victim, bystander] = await connectMany(relay.url, 2);
    victim!.send('thirteen byte');
    expect((await victim!.closed).code).toBe(1011);
    await until(async () => (await disconnections(relay, 'error')) === 1, 5000, 'error to be counted');
    expect(await active(relay)).toBe(1);
    await stillRelays(bystander!, 1);
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
    expect(relay.connections).toBe(0);
    const text = await relay.scrape();
    expect(metricValue(text, 'relay_messages_total')).toBe(0);
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
