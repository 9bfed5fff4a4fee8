// The open-file limit, for real: the CLI runs under `prlimit --nofile=400:400`. Past what the limit allows upgrades
// get a clean 503, connections that hold descriptors without upgrading close the listener instead of spinning the
// event loop on EMFILE, and the relay takes clients again once descriptors are free.
import { connect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { listening, runCli } from '../../helpers/cli.js';
import { metricValue, scrape } from '../../helpers/metrics.js';
import { cpuShare } from '../../helpers/process.js';
import { RawSocket, rawUpgrade } from '../../helpers/raw.js';
import { findOnPath } from '../../helpers/redis.js';
import { until, within } from '../../helpers/wait.js';

const LIMIT = 400;
const PRLIMIT = process.platform === 'linux' ? findOnPath('prlimit') : null;
const SKIP_REASON = 'needs Linux and prlimit (util-linux; .ci/run installs it)';
const REQUIRED = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
/**
 * A relay spinning on EMFILE takes every cycle it can get (a whole core when idle; 33% measured with the machine's
 * load average at 10); one that has refused its clients cleanly uses next to nothing.
 */
const MAX_CPU_SHARE = 0.15;

interface Limited {
  readonly pid: number;
  log(): string;
  readonly wsPort: number;
  readonly metrics: string;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  readyz(): Promise<{ status: number; body: string }>;
}

async function startLimited(): Promise<Limited> {
  // Two uWS threads whatever the machine: each thread adds its own idle cost and wake-ups to the CPU share measured
  // below (0.02, 0.07 and 0.13 s for the same flood with 1, 2 and 4 threads), and `auto` is 16 threads on a 16-CPU
  // machine.
  const sets = ['server.host=127.0.0.1', 'server.port=0', 'metrics.host=127.0.0.1', 'metrics.port=0', 'log.level=info', 'server.workers=2'];
  const run = runCli(sets.flatMap((s) => ['--set', s]), {}, [PRLIMIT ?? 'prlimit', `--nofile=${LIMIT}:${LIMIT}`]);
  const ports = await listening(run);
  const metrics = `http://127.0.0.1:${ports.metrics_port}`;
  return {
    pid: run.child.pid ?? 0,
    log: () => `${run.stdout()}${run.stderr()}`,
    wsPort: ports.ws_port,
    metrics,
    // A scrape may be reset in the moment the table is full, before the listener closes and gives descriptors back.
    metric: async (name, labels) => metricValue(await scrape(`${metrics}/metrics`).catch(() => ''), name, labels),
    readyz: async () => {
      const res = await fetch(`${metrics}/readyz`);
      return { status: res.status, body: await res.text() };
    },
  };
}

/**
 * One upgrade request on a fresh connection: the HTTP status, or the socket error code. An upgraded connection
 * stays open until the test ends.
 */
async function handshakeStatus(port: number): Promise<number | string> {
  try {
    const raw = await RawSocket.open(port);
    const head = await raw.handshake(undefined, 10_000);
    if (head.status !== 101) raw.socket.destroy();
    return head.status;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** A TCP connection that never sends its HTTP request: it holds a descriptor in the relay until uWS times it out. */
function idleConnection(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  onTestFinished(() => {
    socket.destroy();
  });
  socket.on('error', () => {
    // reset when the relay closes its listener with this connection still in the backlog
  });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(socket));
  });
}

if (PRLIMIT === null) {
  process.stderr.write(`file-limit tests skipped: ${SKIP_REASON}\n`);
  describe.runIf(REQUIRED)('the open-file limit (required: CI is set)', () => {
    it('finds prlimit', () => {
      expect.fail(`CI must run the file-limit tests, but ${SKIP_REASON}`);
    });
  });
}

describe.skipIf(PRLIMIT === null)(`the open-file limit (prlimit --nofile=${LIMIT})${PRLIMIT === null ? ` (skipped: ${SKIP_REASON})` : ''}`, () => {
  it('past what the limit allows, upgrades get 503 file_limit at once and the relay does not spin; freed slots are taken again', async () => {
    const relay = await startLimited();
    const cap = (await relay.metric('relay_connections_max')) ?? 0;
    expect(cap).toBeGreaterThan(LIMIT / 2);
    expect(cap).toBeLessThan(LIMIT - 50);

    const open = await Promise.all(Array.from({ length: cap }, () => rawUpgrade(relay.wsPort)));
    const flood = 300;
    const statuses = await Promise.all(Array.from({ length: flood }, () => handshakeStatus(relay.wsPort)));
    // Measured after the last answer, when a relay refusing cleanly has nothing left to do and one spinning on EMFILE
    // goes on burning CPU (answering the flood itself took 0.2 s of CPU on a busy machine, as much as a spin there).
    const { share, cpuS, wallS } = await cpuShare(relay.pid, () => new Promise((resolve) => setTimeout(resolve, 1000)));
    expect(statuses.filter((s) => s !== 503)).toEqual([]);
    expect(await relay.metric('relay_upgrades_rejected_total', { reason: 'file_limit' })).toBe(flood);
    expect(share, `relay CPU ${cpuS.toFixed(2)} s in ${wallS.toFixed(2)} s`).toBeLessThan(MAX_CPU_SHARE);

    for (const socket of open.splice(0, 5)) socket.destroy();
    await until(async () => (await relay.metric('relay_connections_active')) === cap - 5, 5000, 'the freed connections to close');
    const again = await Promise.all(Array.from({ length: 5 }, () => handshakeStatus(relay.wsPort)));
    expect(again).toEqual([101, 101, 101, 101, 101]);
    expect(await handshakeStatus(relay.wsPort)).toBe(503);
    expect((await relay.readyz()).status).toBe(200);
  });

  it('connections that hold descriptors without upgrading close the listener instead of spinning; /readyz says why; it listens again when they leave', async () => {
    const relay = await startLimited();
    const idle: Socket[] = [];
    // More connections than descriptors: the relay can accept only part of them.
    for (let i = 0; i < LIMIT + 50; i++) idle.push(await idleConnection(relay.wsPort));
    await until(async () => (await relay.metric('relay_accepting')) === 0, 15_000, 'the listener to close').catch((err: Error) => {
      throw new Error(`${err.message}; the relay logged:\n${relay.log()}`);
    });

    const { share, cpuS, wallS } = await cpuShare(relay.pid, () => new Promise((resolve) => setTimeout(resolve, 1500)));
    expect(share, `relay CPU ${cpuS.toFixed(2)} s in ${wallS.toFixed(2)} s while at the limit`).toBeLessThan(MAX_CPU_SHARE);
    const ready = await relay.readyz();
    expect(ready.status).toBe(503);
    expect(ready.body).toContain(`listener: open-file limit (${LIMIT}) reached`);
    expect(await within(handshakeStatus(relay.wsPort), 5000, 'a refused connection')).toBe('ECONNREFUSED');
    expect(await relay.metric('relay_listener_pauses_total')).toBe(1);

    for (const socket of idle) socket.destroy();
    await until(async () => (await relay.metric('relay_accepting')) === 1, 10_000, 'the listener to open again');
    expect(await handshakeStatus(relay.wsPort)).toBe(101);
    expect((await relay.readyz()).status).toBe(200);
  });
});
