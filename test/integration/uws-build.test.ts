// Which uWebSockets.js build runs: named at startup and in /metrics, forced by WEBSOCKET_RELAY_UWS, and a build
// that cannot load here ends the relay with one line and exit 3.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listening, runCli, runCliToExit } from '../helpers/cli.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { within } from '../helpers/wait.js';
import { compareVersions, currentRuntime, loadUwsBuild, UWS_BUILD_ENV } from '../../src/relay/uws.js';

const config = join(mkdtempSync(join(tmpdir(), 'relay-uws-')), 'relay.yaml');
writeFileSync(config, 'server: { host: 127.0.0.1, port: 0 }\nmetrics: { host: 127.0.0.1, port: 0 }\n');
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const here = loadUwsBuild();
const runtime = currentRuntime(true);
/** The build this machine cannot load, from its facts alone; null where both load (Node 20 on glibc >= 2.38). */
const unloadable =
  runtime.abi !== '115'
    ? { name: '20.30', why: 'uWS 20.30.0 needs Node 20' }
    : runtime.platform === 'linux' && (runtime.glibc === null || runtime.glibc === undefined || compareVersions(runtime.glibc, '2.38') < 0)
      ? { name: '20.57', why: 'uWS 20.57.0 needs glibc >= 2.38' }
      : null;

describe('uWebSockets.js build', () => {
  it(`the startup line and relay_build_info name the build in use (here uWS ${here.version} on Node ${process.version})`, async () => {
    const run = runCli(['-c', config]);
    const { metrics_port } = await listening(run);
    const line = run.stdout().split('\n').find((l) => l.includes('"relay listening"'));
    expect(JSON.parse(line!)).toMatchObject({ uws_version: here.version, node_version: process.version });
    const text = await scrape(`http://127.0.0.1:${metrics_port}/metrics`);
    expect(metricValue(text, 'relay_build_info', { version: VERSION, node_version: process.version, uws_version: here.version })).toBe(1);
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });

  it(`${UWS_BUILD_ENV} forces the build that loads here`, async () => {
    const run = runCli(['-c', config], { [UWS_BUILD_ENV]: here.version.slice(0, 5) });
    await listening(run);
    expect(run.stdout()).toContain(`"uws_version":"${here.version}"`);
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });

  it.skipIf(unloadable === null)(
    `a build that cannot load here (${unloadable?.name ?? 'none: both load on this machine'}) exits 3 with one line naming Node, ABI, glibc and what works`,
    async () => {
      const { code, stderr, stdout } = await runCliToExit(['-c', config], { [UWS_BUILD_ENV]: unloadable!.name });
      expect(code).toBe(3);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`Node ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch}, glibc ${runtime.glibc ?? 'none'})`);
      expect(lines[0]).toContain(unloadable!.why);
      expect(lines[0]).toContain('the relay runs on Node 22, 24 or 25 with glibc >= 2.38');
      expect(stdout).not.toContain('relay listening');
    },
  );

  it(`${UWS_BUILD_ENV} naming no build exits 2 naming the variable`, async () => {
    const { code, stderr } = await runCliToExit(['-c', config], { [UWS_BUILD_ENV]: '19.0' });
    expect(code).toBe(2);
    expect(stderr).toContain(`${UWS_BUILD_ENV}: "19.0" is not a uWS build; use 20.57 or 20.30`);
  });
});
