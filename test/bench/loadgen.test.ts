// The load generator against a deliberately faulty relay: it must count drops, duplicates, reordering
// and a frame-type change, or a clean bench result would prove nothing.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { buildLoadgen } from '../../bench/loadgen/build.js';
import { benchCertificate } from '../../bench/tls.js';

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

/**
 * Two servers acting as one cluster: each delivers to its own clients at once and to the other's
 * after `hopMs`, as a message through a backplane would arrive.
 */
function twoInstances(hopMs: number): [WebSocketServer, WebSocketServer] {
  const a = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const b = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const deliver = (to: WebSocketServer, data: Buffer, binary: boolean): void => {
    for (const client of to.clients) client.send(data, { binary });
  };
  for (const [self, other] of [
    [a, b],
    [b, a],
  ] as const) {
    self.on('connection', (socket) => {
      socket.on('message', (data: Buffer, isBinary) => {
        deliver(self, data, isBinary);
        setTimeout(() => deliver(other, data, isBinary), hopMs);
      });
    });
  }
  return [a, b];
}

async function closeAll(servers: readonly WebSocketServer[]): Promise<void> {
  for (const server of servers) {
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const urlOf = (server: WebSocketServer): string => `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;

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

  it('reports no cross-instance latency with one URL', async () => {
    const args = ['--url', url, '--subs', '2', '--pubs', '1', '--payload', '64', '--mode', 'fixed', '--rate', '50'];
    args.push('--warmup-s', '0', '--measure-s', '0.2', '--drain-s', '0.5', '--timeout-s', '20', '--no-wait');
    const { stdout } = await run(binary, args).catch((err: { stdout: string }) => err);
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
    expect(result.remote_latency_ns).toBeNull();
  }, 30_000);
});

describe('loadgen with two URLs', () => {
  // Far above any direct delivery, even on a loaded machine, so the two histograms cannot overlap.
  const HOP_MS = 150;
  let servers: [WebSocketServer, WebSocketServer];
  let binary: string;

  beforeAll(async () => {
    binary = await buildLoadgen();
    servers = twoInstances(HOP_MS);
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.once('listening', () => resolve()))));
  }, 60_000);

  afterAll(() => closeAll(servers));

  // Connections alternate between the URLs within each thread; publishers 0 and 1 sit on different
  // ones. One thread: each message reaches 3 of 6 connections after the hop. Two threads (URLs
  // A B A on each): publisher 0's messages cross to 2, publisher 1's to 4, half of all again.
  it.each([1, 2])('keeps the deliveries that crossed to the other URL in their own histogram (%i threads)', async (threads) => {
    const args = ['--url', urlOf(servers[0]), '--url', urlOf(servers[1]), '--subs', '6', '--pubs', '2', '--payload', '64', '--threads', String(threads)];
    args.push('--mode', 'fixed', '--rate', '100', '--warmup-s', '0', '--measure-s', '0.3', '--drain-s', '1', '--timeout-s', '20', '--no-wait');
    const { stdout } = await run(binary, args);
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as {
      lost: number;
      latency_ns: { count: number; p50: number; mean: number };
      remote_latency_ns: { count: number; p50: number; max: number } | null;
    };
    expect(result.lost).toBe(0);
    expect(result.remote_latency_ns?.count).toBe(result.latency_ns.count / 2);
    expect(result.remote_latency_ns?.p50).toBeGreaterThanOrEqual(HOP_MS * 1e6);
    // half the deliveries are direct: the mean of all stays under the hop (the median sits exactly on the
    // boundary between the two halves, so it may be the first crossing one)
    expect(result.latency_ns.mean).toBeLessThan(HOP_MS * 1e6);
  }, 30_000);
});

/**
 * Rooms by request path, like the relay with relay.rooms on; `leak` sends every message to everyone instead,
 * and remembers the peer address of every connection.
 */
function roomsRelay(leak: boolean): { server: WebSocketServer; peers: Set<string> } {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const peers = new Set<string>();
  const rooms = new WeakMap<object, string>();
  server.on('connection', (socket, req) => {
    rooms.set(socket, req.url ?? '');
    peers.add(req.socket.remoteAddress ?? '');
    socket.on('message', (data: Buffer, isBinary) => {
      for (const client of server.clients) if (leak || rooms.get(client) === rooms.get(socket)) client.send(data, { binary: isBinary });
    });
  });
  return { server, peers };
}

describe('loadgen with rooms and source addresses', () => {
  let binary: string;
  const started: WebSocketServer[] = [];

  beforeAll(async () => {
    binary = await buildLoadgen();
  }, 60_000);

  afterAll(() => closeAll(started));

  async function runAgainst(leak: boolean, extra: string[]): Promise<{ result: { sent: number; expected: number; delivered: number; lost: number; bad: number }; peers: Set<string> }> {
    const { server, peers } = roomsRelay(leak);
    started.push(server);
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    // 23 connections in 4 rooms (6, 6, 6, 5), 8 publishers: two per room
    const args = ['--url', urlOf(server), '--subs', '23', '--pubs', '8', '--rooms', '4', '--payload', '64', '--mode', 'fixed', '--rate', '80'];
    args.push('--warmup-s', '0', '--measure-s', '0.5', '--drain-s', '0.5', '--timeout-s', '20', '--no-wait', ...extra);
    const { stdout } = await run(binary, args);
    return { result: JSON.parse(stdout.trim().split('\n').pop() ?? '') as { sent: number; expected: number; delivered: number; lost: number; bad: number }, peers };
  }

  it('expects each message in its own room only, and counts a leak as malformed', async () => {
    const { result } = await runAgainst(false, []);
    // every publisher sent the same count; each room has two publishers
    expect(result.sent).toBeGreaterThanOrEqual(32);
    expect(result.expected).toBe((result.sent / 8) * 2 * 23);
    expect(result).toMatchObject({ lost: 0, dup: 0, ooo: 0, bad: 0 });
    expect(result.delivered).toBe(result.expected);
    const leaky = await runAgainst(true, []);
    expect(leaky.result.lost).toBe(0);
    // every message also reached the 23 - members connections of the other rooms
    expect(leaky.result.bad).toBeGreaterThanOrEqual(3 * leaky.result.expected - 100);
  }, 30_000);

  it('connects from 127.0.0.2 onwards with --sources', async () => {
    const { result, peers } = await runAgainst(false, ['--sources', '3']);
    expect(result.lost).toBe(0);
    expect([...peers].sort()).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
  }, 30_000);
});

describe('loadgen over wss://', () => {
  let binary: string;
  let https: HttpsServer;
  let server: WebSocketServer;

  beforeAll(async () => {
    binary = await buildLoadgen();
    const { cert, key } = await benchCertificate(mkdtempSync(path.join(tmpdir(), 'bench-tls-')));
    https = createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) });
    server = new WebSocketServer({ server: https });
    server.on('connection', (socket) => {
      socket.on('message', (data: Buffer, isBinary) => {
        for (const client of server.clients) client.send(data, { binary: isBinary });
      });
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', () => resolve()));
  }, 60_000);

  afterAll(async () => {
    await closeAll([server]);
    await new Promise<void>((resolve) => https.close(() => resolve()));
  });

  // 16 KiB messages span TLS records, so a read can leave decrypted bytes behind that epoll never reports
  it.each([
    ['fixed', 64],
    ['max', 16 * 1024],
  ])('delivers every message in order (%s, %i B)', async (mode, payload) => {
    const port = (https.address() as AddressInfo).port;
    const args = ['--url', `wss://127.0.0.1:${port}/`, '--subs', '8', '--pubs', '2', '--payload', String(payload), '--mode', mode, '--rate', '100', '--inflight', '8'];
    args.push('--warmup-s', '0', '--measure-s', '0.4', '--drain-s', '1', '--timeout-s', '20', '--no-wait');
    const { stdout } = await run(binary, args);
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { ok: boolean; sent: number; expected: number; delivered: number; lost: number; bad: number; ooo: number };
    expect(result.ok).toBe(true);
    expect(result.sent).toBeGreaterThan(10);
    expect(result).toMatchObject({ lost: 0, bad: 0, ooo: 0, delivered: result.expected });
  }, 30_000);
});
