// Handshake validation (always on): the RFC 6455 answers uWS does not give by itself.
import { describe, expect, it } from 'vitest';
import { TestClient } from '../../helpers/client.js';
import { expectActiveConnections, expectServesFreshClient, rejected } from '../../helpers/health.js';
import { metricValue, scrape } from '../../helpers/metrics.js';
import { RawSocket, upgradeRequest } from '../../helpers/raw.js';
import { startRelay } from '../../helpers/relay.js';

describe('handshake validation on the default relay', () => {
  it('answers Sec-WebSocket-Version 12 with 426 naming version 13', async () => {
    const relay = await startRelay();
    const raw = await RawSocket.open(relay.wsPort);
    const head = await raw.handshake(upgradeRequest({ 'Sec-WebSocket-Version': '12' }));
    expect(head.status).toBe(426);
    expect(head.headers['sec-websocket-version']).toBe('13');
    expect(await rejected(relay, 'bad_handshake')).toBe(1);
    await expectServesFreshClient(relay);
  });

  it.each([
    ['missing', null],
    ['not base64 of 16 bytes', 'abc'],
    ['too long', 'dGhlIHNhbXBsZSBub25jZXh4eA=='],
    ['24 characters but not base64', '!!!!!!!!!!!!!!!!!!!!!!=='],
  ])('answers a %s Sec-WebSocket-Key with 400', async (_what, key) => {
    const relay = await startRelay();
    const raw = await RawSocket.open(relay.wsPort);
    const head = await raw.handshake(upgradeRequest({ 'Sec-WebSocket-Key': key }));
    expect(head.status).toBe(400);
    await raw.closed;
    expect(await rejected(relay, 'bad_handshake')).toBe(1);
    await expectActiveConnections(relay, 0);
    await expectServesFreshClient(relay);
  });

  it('answers a missing version with 426', async () => {
    const relay = await startRelay();
    const raw = await RawSocket.open(relay.wsPort);
    expect((await raw.handshake(upgradeRequest({ 'Sec-WebSocket-Version': null }))).status).toBe(426);
  });

  it('answers a plain HTTP request with 426 instead of dropping it, counted as not_websocket', async () => {
    const relay = await startRelay();
    const res = await fetch(`http://127.0.0.1:${relay.wsPort}/chat`);
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    expect(await rejected(relay, 'not_websocket')).toBe(1);
    expect(await rejected(relay, 'bad_handshake')).toBe(0);
  });

  it('answers a load balancer health check (GET or HEAD /healthz) on the WebSocket port, counting nothing', async () => {
    const relay = await startRelay();
    const url = `http://127.0.0.1:${relay.wsPort}/healthz`;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok\n');
    }
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(url, { method: 'POST' })).status).toBe(426);
    const text = await scrape(relay.metricsUrl);
    for (const reason of ['bad_handshake', 'not_websocket']) {
      expect(metricValue(text, 'relay_upgrades_rejected_total', { reason }), reason).toBe(reason === 'not_websocket' ? 1 : 0);
    }
    await expectServesFreshClient(relay);
  });

  it('the WebSocket-port health check turns 503 once the relay stops accepting', async () => {
    // One thread, so the raw connection is on the thread whose drain is awaited below.
    const relay = await startRelay({ server: { workers: 1 } });
    // a connection opened before the listener closes still gets answers
    const raw = await RawSocket.open(relay.wsPort);
    await relay.close(); // not a WebSocket yet: it outlives the drain (until the close-handshake grace drops it)
    const head = await raw.handshake('GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n');
    expect(head.status).toBe(503);
  });

  it('still upgrades a correct handshake, answering the first offered protocol', async () => {
    const relay = await startRelay();
    const client = await new TestClient(relay.url, { protocols: ['relay', 'other'] }).opened();
    expect(client.ws.protocol).toBe('relay');
    expect(await rejected(relay, 'bad_handshake')).toBe(0);
    await client.close();
  });
});
