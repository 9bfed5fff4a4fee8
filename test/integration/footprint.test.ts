// What a relay with the default configuration loads, per thread: what it does not use stays unloaded (README,
// "Memory"). Each library costs megabytes of resident memory per uWS thread that loads it, so a static import that
// brings one back fails here. The modules are recorded by loader hooks preloaded into every thread.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configFiles, listening, runCli } from '../helpers/cli.js';
import { within } from '../helpers/wait.js';

const RECORDER = fileURLToPath(new URL('../fixtures/module-log/record.mjs', import.meta.url));

/** The modules each thread of a relay loaded from start to a graceful exit, by thread id. */
async function loadedModules(configText: string): Promise<Map<number, string[]>> {
  const log = join(mkdtempSync(join(tmpdir(), 'relay-modules-')), 'modules.log');
  const { configFile } = configFiles('relay-footprint-');
  const run = runCli(['-c', configFile(configText)], { MODULE_LOG: log, NODE_OPTIONS: `--import=${RECORDER}` });
  await listening(run);
  run.child.kill('SIGTERM');
  expect(await within(run.exited, 15_000, 'the relay to exit')).toBe(0);
  const threads = new Map<number, string[]>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const thread = Number(line.slice(0, space));
    threads.set(thread, [...(threads.get(thread) ?? []), line.slice(space + 1)]);
  }
  return threads;
}

const hasPackage = (urls: readonly string[], name: string): boolean => urls.some((u) => u.includes(`/node_modules/${name}/`));

describe('what a default relay loads', () => {
  it('the main thread leaves jose and ioredis unloaded; a worker thread loads neither them nor zod, js-yaml or the config schema', async () => {
    // Two uWS threads whatever the machine; loopback, free ports, no event-loop admission (as helpers/cli.ts's LOOPBACK).
    const threads = await loadedModules(
      'server: { host: 127.0.0.1, port: 0, workers: 2 }\nmetrics: { host: 127.0.0.1, port: 0 }\nlimits: { max_event_loop_delay_ms: 0 }\n',
    );
    const main = [...threads.values()].find((urls) => urls.some((u) => u.endsWith('/dist/cli.js')));
    const workers = [...threads.values()].filter((urls) => urls.some((u) => u.endsWith('/dist/workers/thread.js')));
    // The record is complete enough to trust its absences: the main thread's config loading is in it.
    expect(main).toBeDefined();
    expect(hasPackage(main!, 'zod')).toBe(true);
    expect(hasPackage(main!, 'js-yaml')).toBe(true);
    expect(workers).toHaveLength(1);
    for (const name of ['jose', 'ioredis']) expect(hasPackage(main!, name), `main thread loaded ${name}`).toBe(false);
    const worker = workers[0]!;
    expect(hasPackage(worker, 'pino')).toBe(true);
    for (const name of ['zod', 'js-yaml', 'jose', 'ioredis']) expect(hasPackage(worker, name), `worker thread loaded ${name}`).toBe(false);
    expect(worker.filter((u) => u.includes('/dist/config/'))).toEqual([]);
  });
});
