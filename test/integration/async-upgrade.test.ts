// Upgrades an admission answers on a later turn. Completed inside res.cork(), uWS's cork() then reads the response's
// HTTP state from memory the new WebSocket owns (uNetworking/uWebSockets#1929): bytes allocated there while the socket
// opens can make it drop the socket it has just opened (the client sees 101, then 1006). On 20.57 the hub completes
// them outside cork(); on 20.30, where that is not safe, it takes the socket in, and runs the plug-ins' hooks, only
// once cork() has returned (UwsFeatures.upgradesOutsideCork).
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Admission } from '../../src/index.js';
import { TestClient } from '../helpers/client.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { RawSocket, SAMPLE_KEY } from '../helpers/raw.js';
import { startRelay } from '../helpers/relay.js';
import { until } from '../helpers/wait.js';

/** Bytes that read as HTTP_CONNECTION_CLOSE set and HTTP_RESPONSE_PENDING clear in uWS's response state. */
const CONNECTION_CLOSE_BITS = 0x10;

interface Counts {
  opened: number;
  closed: number;
}

/**
 * An admission that answers on a later turn and, as each socket opens, allocates native memory of every small size
 * filled with CONNECTION_CLOSE_BITS: what any hook may do (a worker thread's admission allocates the message it posts
 * to the main thread), made to hit the memory uWS reads, every time.
 */
function allocatingAdmission(counts: Counts): Admission<object> {
  let kept: Buffer[] = [];
  return {
    // A later turn, as a JWT's signature check or a worker thread's round trip: a verdict settled before uWS is done
    // with the request would complete the upgrade within its upgrade handler, which is safe.
    admit: (info) => new Promise((resolve) => setImmediate(() => resolve({ ok: true, ip: info.peerIp, protocol: '', state: {} }))),
    opened: () => {
      counts.opened++;
      kept = [];
      for (let bytes = 8; bytes <= 1024; bytes += 8) kept.push(Buffer.allocUnsafeSlow(bytes).fill(CONNECTION_CLOSE_BITS));
    },
    closed: () => {
      counts.closed++;
    },
  };
}

describe('upgrades an admission answers asynchronously', () => {
  it('stay open whatever the admission allocates as they open, and join their room', async () => {
    const counts: Counts = { opened: 0, closed: 0 };
    const relay = await startRelay({ server: { workers: 1 } }, { extensions: () => ({ admission: allocatingAdmission(counts) }) });
    const clients: TestClient[] = [];
    for (let i = 0; i < 20; i++) {
      const client = new TestClient(relay.url);
      onTestFinished(async () => {
        await client.terminate();
      });
      await client.opened();
      clients.push(client);
    }
    // uWS drops such a socket in the same call that sent its 101: the relay has counted that close before the client
    // sees its open.
    const text = await scrape(relay.metricsUrl);
    expect(metricValue(text, 'relay_disconnections_total', { reason: 'client_close' })).toBe(0);
    expect(relay.connections).toBe(20);
    expect(counts).toEqual({ opened: 20, closed: 0 });
    clients[0]!.send('hello');
    await Promise.all(clients.map((c) => c.received(1)));
  });

  it('a handshake whose Connection header lacks Upgrade is refused with 400 before any admission', async () => {
    const counts: Counts = { opened: 0, closed: 0 };
    let admitted = 0;
    const admission = allocatingAdmission(counts);
    const relay = await startRelay(
      { server: { workers: 1 } },
      { extensions: () => ({ admission: { ...admission, admit: (info) => (admitted++, admission.admit(info)) } }) },
    );
    const raw = await RawSocket.open(relay.wsPort);
    raw.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await raw.until((b) => b.includes('\r\n\r\n'), 5000, 'the answer');
    expect(raw.received.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    expect(metricValue(await scrape(relay.metricsUrl), 'relay_upgrades_rejected_total', { reason: 'bad_handshake' })).toBe(1);
    expect(admitted).toBe(0);
  });

  it('an upgrade that says Connection: Upgrade, close is taken in after a later verdict', async () => {
    const counts: Counts = { opened: 0, closed: 0 };
    const relay = await startRelay({ server: { workers: 1 } }, { extensions: () => ({ admission: allocatingAdmission(counts) }) });
    const raw = await RawSocket.open(relay.wsPort);
    raw.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await raw.until((b) => b.includes('\r\n\r\n'), 5000, 'the 101');
    expect(raw.received.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    await until(() => counts.opened === 1, 5000, 'the relay to take the socket in');
    expect(relay.connections).toBe(1);
    expect(raw.isClosed).toBe(false);
    // The relay goes on serving.
    const client = new TestClient(relay.url);
    onTestFinished(async () => {
      await client.terminate();
    });
    await client.opened();
    client.send('still here');
    expect((await client.received(1))[0]?.text).toBe('still here');
  });
});
