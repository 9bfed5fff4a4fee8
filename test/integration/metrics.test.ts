// What a Prometheus scrape shows, and the liveness/readiness endpoints on the same small server.
import { describe, expect, it } from 'vitest';
import { connectMany } from '../helpers/client.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startRelay } from '../helpers/relay.js';
import { until } from '../helpers/wait.js';

describe('metrics server', () => {
  it('exposes the relay series after traffic, in the Prometheus text format', async () => {
    const relay = await startRelay();
    const [a, b, c] = await connectMany(relay.url, 3);
    a!.send('12345');
    b!.send(Buffer.alloc(10), true);
    await c!.received(2);
    await a!.close();
    await until(async () => metricValue(await scrape(relay.metricsUrl), 'relay_connections_active') === 2, 5000, 'gauge 2');

    const res = await fetch(relay.metricsUrl);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(metricValue(text, 'relay_connections_total')).toBe(3);
    expect(metricValue(text, 'relay_connections_active')).toBe(2);
    expect(metricValue(text, 'relay_messages_total')).toBe(2);
    expect(metricValue(text, 'relay_received_bytes_total')).toBe(15);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'client_close' })).toBe(1);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'slow_consumer' })).toBe(0);
    expect(text).toContain('# TYPE relay_messages_total counter');
    expect(text).toContain('# TYPE relay_connections_active gauge');
    expect(metricValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metricValue(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);

    // counters keep counting across scrapes
    b!.send('more');
    await c!.received(3);
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_messages_total')).toBe(3);
  });

  it('serves /healthz and /readyz, and 404 elsewhere', async () => {
    const relay = await startRelay();
    expect((await fetch(`${relay.http}/healthz`)).status).toBe(200);
    const ready = await fetch(`${relay.http}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain('ready');
    expect((await fetch(`${relay.http}/nope`)).status).toBe(404);
    expect((await fetch(`${relay.http}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('honours metrics.path', async () => {
    const relay = await startRelay({ metrics: { path: '/prom' } });
    expect((await fetch(`${relay.http}/prom`)).status).toBe(200);
    expect((await fetch(`${relay.http}/metrics`)).status).toBe(404);
  });

  it('can be disabled', async () => {
    const relay = await startRelay({ metrics: { enabled: false } });
    expect(relay.metricsPort).toBeNull();
    const [a, b] = await connectMany(relay.url, 2);
    a!.send('still relays');
    expect((await b!.received(1))[0]!.text).toBe('still relays');
  });
});
