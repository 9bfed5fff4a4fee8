// A dual-stack listener (server.host "::"): IPv4 clients arrive as IPv4-mapped IPv6 and must count, and be logged,
// as their IPv4 address; IPv6 clients as canonical IPv6.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { HandshakeRefused, TestClient } from '../../helpers/client.js';
import { rejected } from '../../helpers/health.js';
import { startRelay } from '../../helpers/relay.js';
import { until } from '../../helpers/wait.js';

async function refusal(url: string, localAddress: string): Promise<number> {
  const err = await new TestClient(url, { localAddress }).opened().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HandshakeRefused);
  return (err as HandshakeRefused).status;
}

/** IPv6 loopback is there unless the kernel or container disabled IPv6. */
const ipv6 = await new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once('error', () => resolve(false));
  server.listen(0, '::1', () => server.close(() => resolve(true)));
});
const REQUIRED = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
if (!ipv6) process.stderr.write('dual-stack tests skipped: no IPv6 loopback (::1) on this machine\n');

describe.skipIf(!ipv6 && !REQUIRED)(`dual-stack listener${ipv6 ? '' : ' (skipped: no IPv6 loopback ::1)'}`, () => {
  it('per-IP limits count each IPv4 and IPv6 client under its own address', async () => {
    const logged: { msg: string; ip?: string }[] = [];
    const sink = { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string; ip?: string }) };
    const relay = await startRelay(
      { server: { host: '::' }, limits: { max_connections_per_ip: 1 } },
      { logger: createLogger('debug', sink) },
    );
    const v4 = `ws://127.0.0.1:${relay.wsPort}`;
    const v6 = `ws://[::1]:${relay.wsPort}`;
    const clients = [
      await new TestClient(v4, { localAddress: '127.0.0.1' }).opened(),
      // Before the fix every IPv4 client counted under one padded-IPv6 /64: this one got 429.
      await new TestClient(v4, { localAddress: '127.0.0.2' }).opened(),
      await new TestClient(v6, { localAddress: '::1' }).opened(),
    ];
    expect(await refusal(v4, '127.0.0.2')).toBe(429);
    expect(await refusal(v6, '::1')).toBe(429);
    expect(await rejected(relay, 'per_ip')).toBe(2);
    // Logs name the client by its canonical address (one per socket: the disconnect line at debug).
    await Promise.all(clients.map((c) => c.close()));
    const disconnected = (): (string | undefined)[] => logged.filter((l) => l.msg === 'client disconnected').map((l) => l.ip);
    await until(() => disconnected().length === 3, 5000, 'three disconnect lines');
    expect(disconnected().sort()).toEqual(['127.0.0.1', '127.0.0.2', '::1']);
  });
});
