// A relay nobody uses runs almost no JavaScript: its slow-consumer sweep is not armed without sockets, and its
// capacity watches (event-loop meter, load sample, file probe, each worker thread's report) beat once a second at
// rest instead of every 20 ms. Resting must not look like load: a worker that reports seldom is not a stuck one.
import { describe, expect, it } from 'vitest';
import { listening, runCli } from '../../helpers/cli.js';
import { TestClient } from '../../helpers/client.js';
import { metricValue, scrape } from '../../helpers/metrics.js';
import { startRelay } from '../../helpers/relay.js';
import { until } from '../../helpers/wait.js';

const AT_REST = '"msg":"no connection and no upgrade: capacity watches at rest"';
const FULL_RATE = '"msg":"capacity watches at full rate"';
const SAMPLE = '"msg":"load sample"';

/** Log lines of `text` that contain `what`, from the thread `worker` (undefined: the main thread). */
function lines(text: string, what: string, worker?: number): string[] {
  return text
    .split('\n')
    .filter((l) => l.includes(what) && (worker === undefined ? !l.includes('"worker":') : l.includes(`"worker":${worker},`)));
}

describe('a relay at rest', () => {
  it('arms its slow-consumer sweep with the first socket and stops it after the last one leaves', async () => {
    // One thread: relay.backpressure is the main thread's guard, and the client must land there.
    const relay = await startRelay({ server: { workers: 1 } });
    expect(relay.backpressure.sweeping).toBe(false);
    const client = await new TestClient(relay.url).opened();
    expect(relay.backpressure.sweeping).toBe(true);
    await client.close();
    await until(() => !relay.backpressure.sweeping, 5000, 'the sweep to stop');
    const again = await new TestClient(relay.url).opened();
    expect(relay.backpressure.sweeping).toBe(true);
    await again.close();
  });

  it('with two threads, every thread rests, the load is sampled once a second without an overload, and a client is admitted at once', async () => {
    // Event-loop admission on: a thread at rest reports once a second, which must not read as a stuck thread (that
    // would be a delay of about 950 ms). 800 ms rather than the default 500 leaves a busy test machine some room.
    const sets = ['server.host=127.0.0.1', 'server.port=0', 'metrics.host=127.0.0.1', 'metrics.port=0', 'log.level=debug', 'server.workers=2', 'limits.max_event_loop_delay_ms=800'];
    const run = runCli(sets.flatMap((s) => ['--set', s]));
    const ports = await listening(run);
    const metrics = `http://127.0.0.1:${ports.metrics_port}`;
    const log = (): string => run.stdout();
    await until(() => lines(log(), AT_REST).length === 1 && lines(log(), AT_REST, 1).length === 1, 15_000, 'both threads to rest').catch((err: Error) => {
      throw new Error(`${err.message}; the relay logged:\n${log().split('\n').slice(-30).join('\n')}`);
    });
    // Three samples at rest (one a second), each of which would have seen a worker at rest as a stalled one.
    const samples = lines(log(), SAMPLE).length;
    await until(() => lines(log(), SAMPLE).length >= samples + 3, 15_000, 'three load samples at rest');
    expect(lines(log(), FULL_RATE)).toEqual([]);
    const res = await fetch(`${metrics}/readyz`);
    expect(res.status).toBe(200);
    expect(metricValue(await scrape(`${metrics}/metrics`), 'relay_overloaded', { cause: 'event_loop' })).toBe(0);
    expect(log()).not.toContain('overloaded:');

    const client = await new TestClient(`ws://127.0.0.1:${ports.ws_port}`).opened();
    // The main thread samples for every thread: it is back at full rate whichever thread took the client.
    await until(() => lines(log(), FULL_RATE).length >= 1, 5000, 'the main thread to leave its rest');
    client.send('after the rest');
    expect((await client.received(1))[0]?.text).toBe('after the rest');
    await client.close();
    await until(() => lines(log(), AT_REST).length === 2, 15_000, 'the main thread to rest again');
  });
});
