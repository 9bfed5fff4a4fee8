// Memory given back after a burst: does the relay's RSS return once a burst of clients has left? Two bursts, one
// fresh relay each: `stalled` (N clients that never read while a publisher sends PAYLOAD bytes RATE times a second,
// until the relay has cut them all, then they leave) and `upgrade` (N clients that connect and leave). For each:
// RSS before, at the peak, and at fixed times after the clients left, with V8's heap (prom-client's
// nodejs_heap_size_used_bytes) beside it, so what the allocator keeps is told from what V8 keeps.
// Run with the soft fd limit raised, once per allocator setting:
//   bash -c 'ulimit -n 20000 && npx tsx bench/memory/burst.ts [--burst stalled|upgrade] [--clients 2000]
//            [--relay-env MALLOC_ARENA_MAX=2] [--relay-env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2]'
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startRelay } from '../peers/relay.js';
import { rssKiB } from '../proc.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const burst = flag('burst', 'stalled');
const clients = Number(flag('clients', burst === 'stalled' ? '2000' : '18000'));
const rate = Number(flag('rate', '50'));
const payload = Number(flag('payload', String(16 * 1024)));
/** Seconds after the clients left at which RSS is read. */
const AFTER_S = [0, 1, 5, 15, 30, 60];
const relayEnv = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === '--relay-env' ? [a.split(/=(.*)/s).slice(0, 2) as [string, string]] : [])));
const nodeFlags = flag('relay-node-flags', '').split(' ').filter((f) => f !== '');
const HOLDERS = fileURLToPath(new URL('../slow/holders.mjs', import.meta.url));

const mib = (kib: number): number => Math.round(kib / 102.4) / 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Where the RSS is (MiB): malloc's main heap (brk), other anonymous mappings (malloc's mmaps and arenas, V8's pages), files. */
function rssParts(pid: number): { brk: number; anon: number; file: number } {
  const parts = { brk: 0, anon: 0, file: 0 };
  let kind: keyof typeof parts = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (mapping !== null) {
      const name = mapping[1] ?? '';
      kind = name === '[heap]' ? 'brk' : name === '' || name.startsWith('[') ? 'anon' : 'file';
    } else if (line.startsWith('Rss:')) {
      parts[kind] += Number(line.split(/\s+/)[1]);
    }
  }
  return { brk: mib(parts.brk), anon: mib(parts.anon), file: mib(parts.file) };
}

/** The relay's /metrics text; tried again once, since a kept-alive connection may be reset by the server's keep-alive timeout. */
async function metricsText(metricsPort: number): Promise<string> {
  const get = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  try {
    return await get();
  } catch {
    return get();
  }
}

/** V8's heap (MiB): in use and committed (prom-client's nodejs_heap_size_*_bytes). */
async function heapMiB(metricsPort: number): Promise<{ used: number; total: number }> {
  const text = await metricsText(metricsPort);
  const read = (name: string): number => Math.round(Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN) / 1024 / 102.4) / 10;
  return { used: read('nodejs_heap_size_used_bytes'), total: read('nodejs_heap_size_total_bytes') };
}

const sample = async (pid: number, metricsPort: number): Promise<Record<string, unknown>> => ({
  rss_mib: mib(rssKiB(pid)),
  ...rssParts(pid),
  heap_mib: await heapMiB(metricsPort),
});

/** Clients from holders.mjs (stall or read); resolves once all are open. */
async function hold(port: number, count: number, mode: 'stall' | 'read'): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HOLDERS, String(port), String(count), mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  while (!out.includes('ready')) await once(child.stdout!, 'data');
  return child;
}

async function release(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.stdin!.end();
  await exited;
}

const server = await startRelay('relay', { cpus: '1', profileDir: null, rooms: false, relay: { nodeFlags, env: relayEnv } });
const metricsPort = Number(server.listening.metrics_port);
const pid = server.pid;
await sleep(1000);
const before = await sample(pid, metricsPort);
let peakKiB = rssKiB(pid);
const sampler = setInterval(() => (peakKiB = Math.max(peakKiB, rssKiB(pid))), 50);
const t0 = performance.now();

if (burst === 'stalled') {
  const holders = await hold(server.port, clients, 'stall');
  const publisher = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  await once(publisher, 'open');
  publisher.on('message', () => {});
  const message = Buffer.alloc(payload, 1);
  const connections = async (): Promise<number> => {
    const text = await metricsText(metricsPort);
    return Number(text.split('\n').find((l) => l.startsWith('relay_connections_active '))?.split(' ')[1] ?? NaN);
  };
  // Publish until the relay has cut every stalled client (only the publisher left), at most 60 s.
  for (let k = 0; performance.now() - t0 < 60_000; k++) {
    publisher.send(message);
    await sleep(1000 / rate);
    if (k % rate === 0 && (await connections()) <= 1) break;
  }
  publisher.close();
  await release(holders);
} else {
  const holders = await hold(server.port, clients, 'read');
  await sleep(1000);
  await release(holders);
}
const burstS = (performance.now() - t0) / 1000;
const leftAt = performance.now();
const after: Record<string, Record<string, unknown>> = {};
for (const s of AFTER_S) {
  const wait = leftAt + s * 1000 - performance.now();
  if (wait > 0) await sleep(wait);
  after[`${s}s`] = await sample(pid, metricsPort);
}
clearInterval(sampler);
await server.stop();
console.log(
  JSON.stringify({
    burst,
    clients,
    env: relayEnv,
    node_flags: nodeFlags,
    burst_s: +burstS.toFixed(1),
    before,
    peak_rss_mib: mib(peakKiB),
    after,
  }),
);
process.exit(0);
