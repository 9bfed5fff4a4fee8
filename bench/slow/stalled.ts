// The stalled-readers scenario: one publisher sends PAYLOAD bytes RATE times a second to N clients that stopped
// reading (or, with --read, that read) and to one healthy reader. Reports the healthy reader's latency and loss,
// the relay's peak RSS, and when the relay had cut the stalled clients. The relay runs as its own process (the
// built CLI, default config plus --set flags), pinned to the last core when taskset exists.
//   bash -c 'ulimit -n 20000 && npx tsx bench/slow/stalled.ts --stalled 1000 [--read] [--seconds 10] [--set relay.max_stall_s=0]'
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { rssKiB } from '../proc.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const stalled = Number(flag('stalled', '1000'));
const seconds = Number(flag('seconds', '10'));
const rate = Number(flag('rate', '50'));
const payload = Number(flag('payload', String(16 * 1024)));
const reading = args.includes('--read');
const sets = args.flatMap((a, i) => (args[i - 1] === '--set' ? ['--set', a] : []));

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const relay = spawn(
  'taskset',
  ['-c', '1', process.execPath, cli, '--set', 'server.host=127.0.0.1', '--set', 'server.port=0', '--set', 'metrics.host=127.0.0.1', '--set', 'metrics.port=0', ...sets],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let log = '';
relay.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
while (!/"ws_port":\d+/.test(log)) await once(relay.stdout, 'data');
const wsPort = Number(/"ws_port":(\d+)/.exec(log)![1]);
const metricsPort = Number(/"metrics_port":(\d+)/.exec(log)![1]);
const pid = relay.pid!;
const metric = async (name: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
};

const holders = spawn(process.execPath, [fileURLToPath(new URL('holders.mjs', import.meta.url)), String(wsPort), String(stalled), reading ? 'read' : 'stall'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
let held = '';
holders.stdout.setEncoding('utf8').on('data', (d: string) => (held += d));
while (!held.includes('ready')) await once(holders.stdout, 'data');

const open = (): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
const reader = await open();
const publisher = await open();
publisher.on('message', () => {});
const latencies: number[] = [];
let readerClosed: number | null = null;
reader.on('message', (data: Buffer) => latencies.push(performance.now() - data.readDoubleLE(0)));
reader.on('close', (code) => (readerClosed = code));

const baselineKiB = rssKiB(pid);
let peakKiB = baselineKiB;
const rssTimer = setInterval(() => (peakKiB = Math.max(peakKiB, rssKiB(pid))), 20);
const total = seconds * rate;
const t0 = performance.now();
let allCutAt: number | null = null;
const cutTimer = setInterval(() => {
  void metric('relay_connections_active').then((n) => {
    if (allCutAt === null && !reading && n <= 2) allCutAt = performance.now() - t0;
  });
}, 100);
const message = Buffer.alloc(payload, 1);
for (let k = 0; k < total; k++) {
  const due = t0 + (k * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  message.writeDoubleLE(due, 0); // latency from the intended send time
  publisher.send(message);
}
const deadline = performance.now() + 5000;
while (latencies.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
clearInterval(rssTimer);
clearInterval(cutTimer);
const sorted = latencies.slice().sort((a, b) => a - b);
const at = (q: number): number => +(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN).toFixed(1);
const result = {
  stalled,
  mode: reading ? 'read' : 'stall',
  sets: sets.filter((s) => s !== '--set'),
  sent: total,
  received: latencies.length,
  lost: total - latencies.length,
  reader_closed: readerClosed,
  p50_ms: at(0.5),
  p99_ms: at(0.99),
  max_ms: +(sorted.at(-1) ?? NaN).toFixed(1),
  baseline_rss_mib: Math.round(baselineKiB / 1024),
  peak_rss_mib: Math.round(peakKiB / 1024),
  all_cut_s: allCutAt === null ? null : +(allCutAt / 1000).toFixed(2),
  slow_consumer: await metric('relay_disconnections_total{reason="slow_consumer"}'),
  cuts_soft: await metric('relay_slow_consumer_cuts_total{trigger="soft_limit"}'),
  cuts_stall: await metric('relay_slow_consumer_cuts_total{trigger="stall"}'),
  cuts_budget: await metric('relay_slow_consumer_cuts_total{trigger="budget"}'),
  shed: await metric('relay_shed_messages_total'),
};
console.log(JSON.stringify(result));
holders.stdin.end();
reader.close();
publisher.close();
relay.kill('SIGTERM');
await once(relay, 'exit');
process.exit(0);
