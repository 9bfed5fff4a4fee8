// What the slow-consumer guard's scan costs per socket: a relay in this process, N idle WebSocket connections
// from a child process, and the guard's sweep timed directly (median of many). Run with the soft fd limit raised:
//   bash -c 'ulimit -n 20000 && npx tsx bench/slow/sweep-cost.ts 19900'
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { start } from '../../src/app.js';
import { parseConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/logger.js';

const count = Number(process.argv[2] ?? 19_900);
const config = parseConfig({ server: { host: '127.0.0.1', port: 0, workers: 1 }, metrics: { enabled: false }, log: { level: 'silent' } });
const relay = await start(config, { logger: createLogger('silent') });
relay.backpressure.close(); // timed by hand below, not by its timer
const holders = spawn(process.execPath, [fileURLToPath(new URL('holders.mjs', import.meta.url)), String(relay.wsPort), String(count)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
let out = '';
holders.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
while (!out.includes('ready')) await once(holders.stdout, 'data');
const sockets = relay.connections;

function timeSweeps(rounds: number): number[] {
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    relay.backpressure.sweep();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b);
}
timeSweeps(50); // warm-up (JIT)
const ms = timeSweeps(500);
const median = ms[Math.floor(ms.length / 2)]!;
const p99 = ms[Math.floor(ms.length * 0.99)]!;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const sweeps = 200;
for (let i = 0; i < sweeps; i++) relay.backpressure.sweep();
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
console.log(
  JSON.stringify({
    sockets,
    sweep_median_ms: +median.toFixed(3),
    sweep_p99_ms: +p99.toFixed(3),
    ns_per_socket: Math.round((median * 1e6) / sockets),
    cpu_ms_per_sweep: +((cpu.user + cpu.system) / 1000 / sweeps).toFixed(3),
    wall_ms_per_sweep: +(wall / sweeps).toFixed(3),
    cpu_percent_at_10_hz: +(((cpu.user + cpu.system) / 1000 / sweeps) * 10 / 10).toFixed(2),
  }),
);
holders.stdin.end();
await relay.close();
process.exit(0);
