// The load generator against a deliberately faulty relay: it must count drops, duplicates, reordering
// and a frame-type change, or a clean bench result would prove nothing.
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { buildLoadgen } from '../../bench/loadgen/build.js';

const run = promisify(execFile);

/**
 * Relays like the peers do, except that it drops every 20th message, repeats every 33rd, flips the
 * 7th's type and delivers the 12th after the 13th.
 */
function faultyRelay(): WebSocketServer {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  let n = 0;
  let held: Buffer | null = null;
  const broadcast = (data: Buffer, binary: boolean): void => {
    for (const client of server.clients) client.send(data, { binary });
  };
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer, isBinary) => {
      n++;
      if (n % 20 === 0) return;
      if (n === 12) {
        held = data;
        return;
      }
      broadcast(data, n === 7 ? !isBinary : isBinary);
      if (n % 33 === 0) broadcast(data, isBinary);
      if (n === 13 && held) broadcast(held, isBinary);
    });
  });
  return server;
}

describe('loadgen', () => {
  let server: WebSocketServer;
  let binary: string;
  let url: string;

  beforeAll(async () => {
    binary = await buildLoadgen();
    server = faultyRelay();
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }, 60_000);

  afterAll(async () => {
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('counts lost, duplicated and wrong-type deliveries', async () => {
    const args = ['--url', url, '--subs', '5', '--pubs', '1', '--payload', '64', '--mode', 'fixed', '--rate', '200'];
    args.push('--warmup-s', '0', '--measure-s', '0.5', '--drain-s', '0.5', '--timeout-s', '20', '--no-wait');
    const { stdout } = await run(binary, args);
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, number | boolean>;
    const sent = result.sent as number;
    expect(sent).toBeGreaterThanOrEqual(90);
    // message n counts the probe as 1, so the measured ones are n - 1
    const dropped = Math.floor((sent + 1) / 20);
    expect(result.lost).toBe(5 * (dropped + 1)); // the flipped one is not a valid delivery either
    expect(result.dup).toBe(5 * Math.floor((sent + 1) / 33));
    expect(result.bad).toBe(5);
    expect(result.ooo).toBe(5);
  }, 30_000);
});
