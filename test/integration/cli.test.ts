// The command line as an operator meets it: bad configs exit 2 naming the key, ports in use exit 4,
// a missing native build exits 3, and SIGTERM drains gracefully.
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connectMany, TestClient } from '../helpers/client.js';
import { configFiles, listening, LOOPBACK, runCli, runCliToExit } from '../helpers/cli.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { rawUpgrade } from '../helpers/raw.js';
import { until, within } from '../helpers/wait.js';

const { dir, configFile } = configFiles('relay-cli-');

describe('configuration errors exit 2 with one line per problem naming the key', () => {
  const cases: [string, string, string][] = [
    ['a port out of range', 'server: { port: 70000 }', 'server.port: must be <= 65535'],
    ['an unknown key', 'relay: { echo: true, ecko: false }', 'relay.ecko: unknown key'],
    ['an unknown section', 'relays: {}', 'relays: unknown key'],
    ['a wrong type', 'relay: { echo: "yes" }', 'relay.echo: must be a boolean'],
    ['an idle timeout uWS would abort on', 'relay: { idle_timeout_s: 5 }', 'relay.idle_timeout_s: must be 0 (off) or between 8 and 960'],
    ['a log level that does not exist', 'log: { level: loud }', 'log.level: must be one of'],
    ['a YAML syntax error, with its line', 'server:\n  port: [1, 2\nrelay: {}', ':3:'],
    ['a missing TLS certificate', 'server: { tls: { cert_file: /nonexistent/cert.pem, key_file: /nonexistent/key.pem } }', 'server.tls.cert_file: cannot read /nonexistent/cert.pem: ENOENT'],
    ['only half of the TLS pair', 'server: { tls: { cert_file: /etc/hostname } }', 'server.tls: cert_file and key_file must be set together'],
  ];
  for (const [what, yaml, message] of cases) {
    it(what, async () => {
      const { code, stderr, stdout } = await runCliToExit(['--config-file', configFile(yaml)]);
      expect(code).toBe(2);
      expect(stderr).toContain(message);
      expect(stdout).not.toContain('relay listening');
    });
  }

  it('reports every problem at once', async () => {
    const { code, stderr } = await runCliToExit(['--check-config', '-c', configFile('server: { port: -1 }\nmetrics: { port: 99999 }')]);
    expect(code).toBe(2);
    expect(stderr).toContain('server.port: must be >= 0');
    expect(stderr).toContain('metrics.port: must be <= 65535');
  });

  it('a missing config file', async () => {
    const { code, stderr } = await runCliToExit(['--config-file', join(dir, 'nope.yaml')]);
    expect(code).toBe(2);
    expect(stderr).toContain('nope.yaml: ENOENT');
  });

  it('a bad environment override names the variable', async () => {
    const { code, stderr } = await runCliToExit(['--check-config'], { RELAY_SERVER__PORT: 'eighty' });
    expect(code).toBe(2);
    expect(stderr).toContain('server.port: must be a number (from RELAY_SERVER__PORT)');
  });

  it('an unknown command-line flag', async () => {
    const { code, stderr } = await runCliToExit(['--config-fil', 'x.yaml']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/Unknown argument/i);
  });
});

describe('config commands', () => {
  it('--check-config accepts an empty file', async () => {
    const { code, stdout } = await runCliToExit(['--check-config', '-c', configFile('')]);
    expect(code).toBe(0);
    expect(stdout).toContain('configuration ok');
  });

  it('--print-config shows file, env and --set layered in that order', async () => {
    const { code, stdout } = await runCliToExit(
      ['--print-config', '-c', configFile('server: { port: 1111 }\nrelay: { echo: false, rooms: true }'), '--set', 'relay.rooms=false'],
      { RELAY_SERVER__PORT: '2222', RELAY_RELAY__ROOMS: 'true' },
    );
    expect(code).toBe(0);
    expect(stdout).toContain('port: 2222');
    expect(stdout).toContain('echo: false');
    expect(stdout).toContain('rooms: false');
    expect(stdout).toContain('max_payload_bytes: 65536');
  });

  it('--print-config masks secrets', async () => {
    const { code, stdout } = await runCliToExit(['--print-config', '--set', 'security.tokens=[aaaaaaaaaaaaaaaaaaaa]'], {
      RELAY_CLUSTER__REDIS__URL: 'redis://user:hunter2hunter2@127.0.0.1:6379/0',
    });
    expect(code).toBe(0);
    expect(stdout).not.toContain('hunter2');
    expect(stdout).not.toContain('aaaaaaaaaaaaaaaaaaaa');
    expect(stdout).toContain('redis://user:***@127.0.0.1:6379/0');
  });
});

describe('startup failures', () => {
  const listeners: [string, string, string][] = [
    ['the WebSocket port', 'server.port', 'server: cannot listen on'],
    ['the metrics port', 'metrics.port', 'metrics: cannot listen on'],
  ];
  for (const [what, key, message] of listeners) {
    it(`${what} already in use exits 4 with a clear message`, async () => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const port = (blocker.address() as { port: number }).port;
      onTestFinished(() => void blocker.close());
      const { code, stderr } = await runCliToExit(['-c', configFile(LOOPBACK), '--set', `${key}=${port}`]);
      expect(code).toBe(4);
      expect(stderr).toContain(`${message} 127.0.0.1:${port}`);
    });
  }

  it('a second relay on the same port is refused instead of silently sharing its traffic', async () => {
    const first = runCli(['-c', configFile(LOOPBACK)]);
    const { ws_port } = await listening(first);
    const { code, stderr } = await runCliToExit(['-c', configFile(LOOPBACK), '--set', `server.port=${ws_port}`]);
    expect(code).toBe(4);
    expect(stderr).toContain('port in use');
    first.child.kill('SIGTERM');
    expect(await within(first.exited, 10_000, 'first relay to exit')).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM: /readyz turns 503 first, then every client gets 1001, and the process exits 0 in time', async () => {
    const run = runCli(['-c', configFile(`${LOOPBACK}shutdown: { timeout_s: 5, drain_delay_s: 1 }\n`)]);
    const { ws_port, metrics_port } = await listening(run);
    const http = `http://127.0.0.1:${metrics_port}`;
    expect((await fetch(`${http}/readyz`)).status).toBe(200);
    const clients = await connectMany(`ws://127.0.0.1:${ws_port}`, 20);
    let closedEarly = 0;
    for (const c of clients) void c.closed.then(() => closedEarly++);

    const signalled = Date.now();
    run.child.kill('SIGTERM');
    await until(async () => (await fetch(`${http}/readyz`)).status === 503, 3000, '/readyz to turn 503');
    expect(closedEarly).toBe(0); // not-ready comes before any client is closed
    expect((await fetch(`${http}/healthz`)).status).toBe(200);

    const codes = await Promise.all(clients.map(async (c) => (await c.closed).code));
    expect(new Set(codes)).toEqual(new Set([1001]));
    expect(await within(run.exited, 6000, 'the relay to exit')).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(run.stdout()).toContain('shutdown complete');
  });

  it('clients that never answer the close frame do not hold the process until timeout_s', async () => {
    const run = runCli(['-c', configFile(`${LOOPBACK}shutdown: { timeout_s: 60 }\n`)]);
    const { ws_port } = await listening(run);
    const stuck = await rawUpgrade(ws_port);
    stuck.pause(); // never reads the 1001 close frame, never answers it
    const halfway = connect(ws_port, '127.0.0.1'); // a TCP connection that never sends a request
    halfway.on('error', () => {}); // the relay drops it at the end, with a reset
    await new Promise((resolve) => halfway.once('connect', resolve));
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 20_000, 'the relay to exit')).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(20_000); // far from the 60 s watchdog
    stuck.destroy();
    halfway.destroy();
  });

  it('a shutdown cut short by the watchdog exits 5, not 0', async () => {
    const run = runCli(['-c', configFile(`${LOOPBACK}shutdown: { timeout_s: 0.2 }\n`)]);
    const { ws_port } = await listening(run);
    const stuck = await rawUpgrade(ws_port);
    stuck.pause(); // never answers the 1001 close frame: its connection outlives the 0.2 s budget
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(5);
    expect(run.stdout()).toContain('shutdown timed out');
    stuck.destroy();
  });

  it('new connections are refused once the listener has closed', async () => {
    const run = runCli(['-c', configFile(`${LOOPBACK}shutdown: { timeout_s: 5 }\n`)]);
    const { ws_port } = await listening(run);
    const holder = await new TestClient(`ws://127.0.0.1:${ws_port}`).opened();
    run.child.kill('SIGTERM');
    expect((await holder.closed).code).toBe(1001);
    await expect(new TestClient(`ws://127.0.0.1:${ws_port}`).opened()).rejects.toThrow();
    expect(await within(run.exited, 6000, 'the relay to exit')).toBe(0);
  });

  it('a second signal exits at once', async () => {
    const run = runCli(['-c', configFile(`${LOOPBACK}shutdown: { timeout_s: 30, drain_delay_s: 20 }\n`)]);
    const { metrics_port } = await listening(run);
    run.child.kill('SIGTERM');
    await until(async () => (await fetch(`http://127.0.0.1:${metrics_port}/readyz`)).status === 503, 3000, 'draining');
    run.child.kill('SIGINT');
    expect(await within(run.exited, 3000, 'the relay to exit')).toBe(130);
  });

  it('serves real clients and metrics when started from the CLI', async () => {
    const run = runCli(['-c', configFile(LOOPBACK)]);
    const { ws_port, metrics_port } = await listening(run);
    const [a, b] = await connectMany(`ws://127.0.0.1:${ws_port}`, 2);
    a!.send('over the real CLI');
    expect((await b!.received(1))[0]!.text).toBe('over the real CLI');
    const text = await scrape(`http://127.0.0.1:${metrics_port}/metrics`);
    expect(metricValue(text, 'relay_messages_total')).toBe(1);
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });
});
