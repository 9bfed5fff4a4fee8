// Two relay instances joined by a fresh redis-server: the scale-out mode, measured as one
// server. Subscribers alternate between the instances (the load generator's round-robin over
// urls), so about half of all deliveries cross Redis; the load generator reports those separately.
import { setTimeout as sleep } from 'node:timers/promises';
import { runtimeOf, type ServerProcess } from './process.js';
import { redisMissing, startRedis } from './redis.js';
import type { RedisProcess } from './redis.js';
import { relayMissing, startRelay } from './relay.js';
import { fetchText, sumSeries } from './scrape.js';
import type { Peer, PeerInstance, StartOptions } from './types.js';

const INSTANCES = 2;
/** longest wait for /readyz (the backplane subscribed) after an instance listens */
const READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 50;
const DROPPED = 'relay_backplane_dropped_total';

function metricsPort(server: ServerProcess): number {
  const port = server.listening.metrics_port;
  if (typeof port !== 'number' || port <= 0) throw new Error('relay-cluster: the relay listening line has no metrics_port');
  return port;
}

/** Polls /readyz until 200: the relay reports ready only once its Redis connections are subscribed. */
async function waitReady(port: number): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (performance.now() < deadline) {
    try {
      const res = await fetchText(port, '/readyz');
      if (res.status === 200) return;
      last = `${res.status} ${res.text.trim().replace(/\s+/g, ' ')}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(READY_POLL_MS);
  }
  throw new Error(`relay-cluster: /readyz on metrics port ${port} not 200 after ${READY_TIMEOUT_MS} ms (last: ${last})`);
}

/** Stops the relays first (each leaves the cluster after closing its clients), then Redis. */
async function stopAll(relays: readonly ServerProcess[], redis: RedisProcess): Promise<void> {
  await Promise.all(relays.map((r) => r.stop()));
  await redis.stop();
}

export const relayCluster: Peer = {
  name: 'relay-cluster',
  description: `this project, ${INSTANCES} instances with cluster.backplane=redis and a fresh redis-server; subscribers alternate between instances`,
  rooms: true,
  async unavailable(): Promise<string | null> {
    return relayMissing() ?? (await redisMissing());
  },
  async start(options: StartOptions): Promise<PeerInstance> {
    const redis = await startRedis(options.cpus);
    const env = { RELAY_CLUSTER__BACKPLANE: 'redis', RELAY_CLUSTER__REDIS__URL: redis.url };
    const started = await Promise.allSettled(Array.from({ length: INSTANCES }, (_, i) => startRelay(`relay-cluster[${i}]`, options, env)));
    const relays = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const ports: number[] = [];
    try {
      const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failure) throw failure.reason;
      ports.push(...relays.map(metricsPort));
      await Promise.all(ports.map(waitReady));
    } catch (err) {
      await stopAll(relays, redis);
      throw err;
    }
    let closing: Promise<void> | null = null;
    return {
      urls: relays.map((r) => `ws://127.0.0.1:${r.port}/`),
      pids: [...relays.map((r) => r.pid), redis.pid],
      runtime: relays[0] && runtimeOf(relays[0].listening),
      close: () => (closing ??= stopAll(relays, redis)),
      async backplaneDropped(): Promise<number> {
        const pages = await Promise.all(ports.map((port) => fetchText(port, '/metrics')));
        return pages.reduce((total, page) => total + sumSeries(page.text, DROPPED), 0);
      },
    };
  },
};
