// What a relay with the default configuration loads, per thread: what it does not use stays unloaded (README,
// "Memory"). Each library costs megabytes of resident memory in every uWS thread that loads it, so a static import
// that brings one back fails here. The modules are recorded by loader hooks preloaded into every thread and process.
// The relay runs bundled (scripts/bundle.mjs): each file it loads from dist/ is mapped back to the sources in it
// through dist/bundle.json, and a thread that loads a module of tsc's unbundled output fails too.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configFiles, listening, runCli } from '../helpers/cli.js';
import { within } from '../helpers/wait.js';

const RECORDER = fileURLToPath(new URL('../fixtures/module-log/record.mjs', import.meta.url));
const BUNDLE = JSON.parse(readFileSync(new URL('../../dist/bundle.json', import.meta.url), 'utf8')) as Record<string, string[]>;

/** The modules a relay's threads, and the processes it started, loaded from start to a graceful exit. */
async function loadedModules(configText: string): Promise<{ pid: number; threads: Map<string, string[]> }> {
  const log = join(mkdtempSync(join(tmpdir(), 'relay-modules-')), 'modules.log');
  const { configFile } = configFiles('relay-footprint-');
  const run = runCli(['-c', configFile(configText)], { MODULE_LOG: log, NODE_OPTIONS: `--import=${RECORDER}` });
  await listening(run);
  run.child.kill('SIGTERM');
  expect(await within(run.exited, 15_000, 'the relay to exit')).toBe(0);
  const threads = new Map<string, string[]>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const thread = line.slice(0, space);
    threads.set(thread, [...(threads.get(thread) ?? []), ...sources(line.slice(space + 1))]);
  }
  return { pid: run.child.pid!, threads };
}

/** A loaded module's URL, or for a bundle output the sources it holds (`bundle:/src/...`, `bundle:/node_modules/...`). */
function sources(url: string): string[] {
  const output = /\/dist\/([^/]+\.js)$/.exec(url)?.[1];
  const inputs = output === undefined ? undefined : BUNDLE[output];
  return inputs === undefined ? [url] : inputs.map((input) => `bundle:/${input}`);
}

const hasPackage = (urls: readonly string[], name: string): boolean => urls.some((u) => u.includes(`/node_modules/${name}/`));
const loads = (urls: readonly string[], source: string): boolean => urls.some((u) => u === `bundle:/src/${source}`);

describe('what a default relay loads', () => {
  it('its threads load none of zod, js-yaml, the config schema, jose or ioredis; the configuration is validated in a process of its own', async () => {
    // Two uWS threads whatever the machine; loopback, free ports, no event-loop admission (as helpers/cli.ts's LOOPBACK).
    const { pid, threads } = await loadedModules(
      'server: { host: 127.0.0.1, port: 0, workers: 2 }\nmetrics: { host: 127.0.0.1, port: 0 }\nlimits: { max_event_loop_delay_ms: 0 }\n',
    );
    const relay = [...threads].filter(([thread]) => thread.startsWith(`${pid}:`)).map(([, urls]) => urls);
    const main = relay.filter((urls) => loads(urls, 'cli.ts'));
    const workers = relay.filter((urls) => loads(urls, 'workers/thread.ts'));
    const loaders = [...threads].filter(([thread]) => !thread.startsWith(`${pid}:`)).map(([, urls]) => urls);
    expect(main).toHaveLength(1);
    expect(workers).toHaveLength(1);
    // The record is complete enough to trust its absences: the loader process's zod and js-yaml are in it.
    expect(loaders.filter((urls) => loads(urls, 'config/loader-process.ts') && hasPackage(urls, 'zod') && hasPackage(urls, 'js-yaml'))).toHaveLength(1);
    expect(hasPackage(main[0]!, 'pino') && hasPackage(workers[0]!, 'pino')).toBe(true);
    for (const urls of [...main, ...workers]) {
      for (const name of ['zod', 'js-yaml', 'jose', 'ioredis']) expect(hasPackage(urls, name), `a relay thread loaded ${name}`).toBe(false);
      expect(urls.filter((u) => /\/src\/config\/(schema|load|security|cluster|reference)\.ts$/.test(u))).toEqual([]);
      expect(urls.filter((u) => !u.startsWith('bundle:') && !u.includes('/node_modules/') && u.includes('/dist/')), 'a relay thread loaded unbundled modules').toEqual([]);
    }
  });
});
