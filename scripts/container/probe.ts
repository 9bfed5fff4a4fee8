// Host-side probe for scripts/container-smoke.sh: real WebSocket clients and HTTP checks against a
// relay running in a container on loopback. Every wait has a deadline; prints one JSON result line
// and exits 0 on success, 1 on failure (with the reason in the JSON), 2 on bad usage.
//
//   tsx scripts/container/probe.ts free-ports N
//   tsx scripts/container/probe.ts fanout   --ws URL [--clients 3]
//   tsx scripts/container/probe.ts http     --url URL [--status 200] [--contains a,b,...]
//   tsx scripts/container/probe.ts shutdown --ws URL --readyz URL --pid PID [--clients 3]
import { createServer, type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

const DEFAULT_TIMEOUT_MS = 10_000;

/** A failure the probe reports as `{ ok: false, error }` instead of a stack trace. */
class ProbeFailure extends Error {
  override name = 'ProbeFailure';
}

function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeFailure(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Ports the kernel hands out for 127.0.0.1:0, all held open at once so they are distinct. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function connectAll(url: string, count: number, timeoutMs: number): Promise<WebSocket[]> {
  return deadline(Promise.all(Array.from({ length: count }, () => connect(url))), timeoutMs, `${count} clients connect to ${url}`);
}

/** One client sends a unique message; every other client must receive exactly that text. */
async function fanout(url: string, clients: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const sockets = await connectAll(url, clients, timeoutMs);
  try {
    const payload = `smoke-${process.pid}-${Date.now()}`;
    const [sender, ...receivers] = sockets;
    if (!sender || receivers.length === 0) throw new ProbeFailure('fanout needs at least 2 clients');
    const received = receivers.map(
      (ws) => new Promise<void>((resolve) => {
        ws.on('message', (data) => {
          if (data.toString() === payload) resolve();
        });
      }),
    );
    sender.send(payload);
    await deadline(Promise.all(received), timeoutMs, `${receivers.length} receivers get the message`);
    return { clients, receivers: receivers.length, payload };
  } finally {
    for (const ws of sockets) ws.terminate();
  }
}

async function httpCheck(url: string, status: number, contains: string[], timeoutMs: number): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (res.status !== status) throw new ProbeFailure(`${url}: status ${res.status}, expected ${status}`);
  const missing = contains.filter((name) => !new RegExp(`^${name}(\\{| )`, 'm').test(body));
  if (missing.length > 0) throw new ProbeFailure(`${url}: missing ${missing.join(', ')}`);
  // The sample lines for the names asked about, so the smoke log shows the actual counters.
  const samples = body.split('\n').filter((line) => contains.some((name) => line.startsWith(name)));
  return { url, status: res.status, samples };
}

/**
 * Holds clients open, polls /readyz, then sends SIGTERM to the relay. Passes when every client is
 * closed with 1001 and /readyz answered 503 at least once after the signal (before it stopped
 * answering at all). Records what it saw either way.
 */
async function shutdown(wsUrl: string, readyzUrl: string, pid: number, clients: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const sockets = await connectAll(wsUrl, clients, timeoutMs);
  const closed = sockets.map((ws) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code))));
  const before = await fetch(readyzUrl, { signal: AbortSignal.timeout(timeoutMs) });
  if (before.status !== 200) throw new ProbeFailure(`/readyz was ${before.status} before SIGTERM`);

  const statuses: (number | string)[] = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      try {
        const res = await fetch(readyzUrl, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        statuses.push(res.status);
      } catch {
        statuses.push('refused');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();

  const signalledAt = Date.now();
  process.kill(pid, 'SIGTERM');
  const codes = await deadline(Promise.all(closed), timeoutMs, 'clients closed after SIGTERM');
  const closedAfterMs = Date.now() - signalledAt;
  await deadline(poll, timeoutMs, '/readyz stops answering after SIGTERM').finally(() => {
    polling = false;
  });

  // Collapse runs ("503 x41") so the log stays one line.
  const seen: string[] = [];
  for (const s of statuses) {
    const last = seen.at(-1);
    if (last && last.split(' x')[0] === String(s)) {
      const n = Number(last.split(' x')[1] ?? 1) + 1;
      seen[seen.length - 1] = `${s} x${n}`;
    } else seen.push(String(s));
  }
  const result = { closeCodes: codes, closedAfterMs, readyzAfterSignal: seen };
  if (!codes.every((c) => c === 1001)) throw new ProbeFailure(`close codes ${codes.join(',')}, expected 1001: ${JSON.stringify(result)}`);
  if (!statuses.includes(503)) throw new ProbeFailure(`no 503 from /readyz during the drain: ${JSON.stringify(result)}`);
  return result;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      ws: { type: 'string' },
      url: { type: 'string' },
      readyz: { type: 'string' },
      pid: { type: 'string' },
      clients: { type: 'string', default: '3' },
      status: { type: 'string', default: '200' },
      contains: { type: 'string', default: '' },
      'timeout-ms': { type: 'string', default: String(DEFAULT_TIMEOUT_MS) },
    },
  });
  const [command, arg] = positionals;
  const timeoutMs = Number(values['timeout-ms']);
  const need = (name: string, value: string | undefined): string => {
    if (!value) throw new ProbeFailure(`${command}: --${name} is required`);
    return value;
  };
  let result: unknown;
  switch (command) {
    case 'free-ports':
      result = await freePorts(Number(arg ?? 1));
      process.stdout.write(`${(result as number[]).join(' ')}\n`);
      return;
    case 'fanout':
      result = await fanout(need('ws', values.ws), Number(values.clients), timeoutMs);
      break;
    case 'http':
      result = await httpCheck(need('url', values.url), Number(values.status), values.contains.split(',').filter(Boolean), timeoutMs);
      break;
    case 'shutdown':
      result = await shutdown(need('ws', values.ws), need('readyz', values.readyz), Number(need('pid', values.pid)), Number(values.clients), timeoutMs);
      break;
    default:
      process.stderr.write('usage: probe.ts free-ports N | fanout | http | shutdown (see the file header)\n');
      process.exit(2);
  }
  process.stdout.write(`${JSON.stringify({ ok: true, ...(result as object) })}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) })}\n`);
    process.exit(1);
  },
);
