// Every signal has a meaning and none opens a door: SIGUSR1 never starts the inspector, SIGUSR1/SIGUSR2 log a state
// summary and never kill, SIGHUP reloads, SIGQUIT drains like SIGTERM. The CLI runs as a child process.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connectMany, TestClient } from '../helpers/client.js';
import { configFiles, listening, LOOPBACK, runCli, type CliRun } from '../helpers/cli.js';
import { listeningSockets } from '../helpers/listeners.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { until, within } from '../helpers/wait.js';

const { configFile } = configFiles('relay-signals-');
// If the inspector ever opened it would take a free port, so a listener shows up even when 9229 is taken.
const INSPECTOR_ANY_PORT = { NODE_OPTIONS: '--inspect-port=0' };

function logLines(run: CliRun): { msg: string; [k: string]: unknown }[] {
  return run
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string });
}

async function logged(run: CliRun, check: (l: { msg: string; [k: string]: unknown }) => boolean, what: string): Promise<void> {
  await until(() => logLines(run).some(check), 10_000, what, 20);
}

describe('SIGUSR1 and SIGUSR2', () => {
  it('the detection works: a plain Node process opens an inspector listener on SIGUSR1', async () => {
    const script = 'console.log("ready"); setInterval(() => {}, 1000)';
    const child = spawn(process.execPath, ['--inspect-port=0', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => void child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await until(() => stdout.includes('ready'), 10_000, 'the child to run');
    expect(listeningSockets(child.pid!).size).toBe(0);
    child.kill('SIGUSR1');
    await until(() => listeningSockets(child.pid!).size > 0, 10_000, 'the inspector to listen');
    await until(() => stderr.includes('Debugger listening'), 10_000, 'the inspector banner');
  });

  it('SIGUSR1 opens no inspector, does not kill, and logs a state summary', async () => {
    const run = runCli(['-c', configFile(LOOPBACK)], INSPECTOR_ANY_PORT);
    const { ws_port } = await listening(run);
    const pid = run.child.pid!;
    const client = await new TestClient(`ws://127.0.0.1:${ws_port}`).opened();
    const before = listeningSockets(pid);
    expect(before.size).toBe(2); // the WebSocket and the metrics ports
    run.child.kill('SIGUSR1');
    await logged(run, (l) => l.msg === 'state' && l.signal === 'SIGUSR1' && l.connections === 1, 'the state line');
    // Nothing new listens, and the process still serves.
    expect(listeningSockets(pid)).toEqual(before);
    expect(run.stderr()).not.toContain('Debugger listening');
    client.send('still here');
    expect((await client.received(1))[0]!.text).toBe('still here');
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });

  it('SIGUSR2 does not kill and logs a state summary', async () => {
    const run = runCli(['-c', configFile(LOOPBACK)]);
    const { ws_port } = await listening(run);
    const client = await new TestClient(`ws://127.0.0.1:${ws_port}`).opened();
    // Standard signals are not queued: send the second once the first has been handled.
    run.child.kill('SIGUSR2');
    await until(() => logLines(run).filter((l) => l.msg === 'state' && l.signal === 'SIGUSR2').length === 1, 10_000, 'a state line');
    run.child.kill('SIGUSR2');
    await until(() => logLines(run).filter((l) => l.msg === 'state' && l.signal === 'SIGUSR2').length === 2, 10_000, 'two state lines');
    client.send('alive');
    expect((await client.received(1))[0]!.text).toBe('alive');
    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });
});

describe('SIGHUP reloads', () => {
  it('applies the edited file, names restart-only keys, refuses a broken file, and never exits', async () => {
    const file = configFile(`${LOOPBACK}relay: { echo: true }\n`);
    const run = runCli(['-c', file], { RELAY_LIMITS__MAX_CONNECTIONS: '100' });
    const { ws_port, metrics_port } = await listening(run);
    const old = await new TestClient(`ws://127.0.0.1:${ws_port}`).opened();

    writeFileSync(file, `${LOOPBACK}relay: { echo: false, rooms: true }\n`);
    run.child.kill('SIGHUP');
    await logged(run, (l) => l.msg === 'configuration reloaded' && l.trigger === 'SIGHUP', 'the reload line');
    const line = logLines(run).find((l) => l.msg === 'configuration reloaded')!;
    expect(line.applied).toEqual(['relay.echo']);
    expect(line.restart_only).toEqual(['relay.rooms']);
    expect(logLines(run).some((l) => l.key === 'relay.rooms' && l.msg.includes('needs a restart'))).toBe(true);
    // The env override still applies: same sources as at start.
    const fresh = await new TestClient(`ws://127.0.0.1:${ws_port}`).opened();
    fresh.send('not back to me');
    expect((await old.received(1))[0]!.text).toBe('not back to me');
    expect(fresh.inbox).toHaveLength(0);

    writeFileSync(file, `${LOOPBACK}relay: { echo: maybe }\n`);
    run.child.kill('SIGHUP');
    await logged(run, (l) => l.msg === 'configuration reload refused: relay.echo: must be a boolean', 'the refusal line');
    const metrics = await scrape(`http://127.0.0.1:${metrics_port}/metrics`);
    expect(metricValue(metrics, 'relay_config_reloads_total', { result: 'success' })).toBe(1);
    expect(metricValue(metrics, 'relay_config_reloads_total', { result: 'failure' })).toBe(1);
    expect(metricValue(metrics, 'relay_config_last_reload_successful')).toBe(0);
    expect(run.child.exitCode).toBeNull();
    fresh.send('still relaying');
    expect((await old.received(2))[1]!.text).toBe('still relaying');
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });

  it('POST /-/reload does the same when metrics.reload_endpoint is on', async () => {
    const base = 'server: { host: 127.0.0.1, port: 0 }\nmetrics: { host: 127.0.0.1, port: 0, reload_endpoint: true }\n';
    const file = configFile(base);
    const run = runCli(['-c', file]);
    const { metrics_port } = await listening(run);
    const url = `http://127.0.0.1:${metrics_port}/-/reload`;
    expect((await fetch(url)).status).toBe(405);
    writeFileSync(file, `${base}log: { level: debug }\n`);
    const ok = await fetch(url, { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('applied: log.level');
    writeFileSync(file, `${base}relay: { nope: 1 }\n`);
    const refused = await fetch(url, { method: 'POST' });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('relay.nope: unknown key');
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });

  it('POST /-/reload is not served by default', async () => {
    const run = runCli(['-c', configFile(LOOPBACK)]);
    const { metrics_port } = await listening(run);
    expect((await fetch(`http://127.0.0.1:${metrics_port}/-/reload`, { method: 'POST' })).status).toBe(405);
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });
});

describe('SIGQUIT', () => {
  it('drains like SIGTERM: every client gets 1001 and the process exits 0', async () => {
    const run = runCli(['-c', configFile(`${LOOPBACK}shutdown: { timeout_s: 5 }\n`)]);
    const { ws_port } = await listening(run);
    const clients = await connectMany(`ws://127.0.0.1:${ws_port}`, 5);
    run.child.kill('SIGQUIT');
    const codes = await Promise.all(clients.map(async (c) => (await c.closed).code));
    expect(new Set(codes)).toEqual(new Set([1001]));
    expect(await within(run.exited, 6000, 'the relay to exit')).toBe(0);
  });
});
