// The bundled command (scripts/bundle.mjs) on every Node that package.json's engines admit. The bundle takes node's
// built-ins through process.getBuiltinModule, which Node 22.0-22.2 lack: there it must fall back to `require` in
// the main thread, the uWS threads and the configuration loader process alike.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectMany } from '../helpers/client.js';
import { configFiles, listening, LOOPBACK, runCli, runCliToExit } from '../helpers/cli.js';
import { within } from '../helpers/wait.js';

const { configFile } = configFiles('relay-bundle-');
/** Every process and thread runs without process.getBuiltinModule, and says so on stderr. */
const NO_GET_BUILTIN = { NODE_OPTIONS: `--import=${fileURLToPath(new URL('../fixtures/no-builtin-module.mjs', import.meta.url))}` };
/** What the CLI prints when its configuration loader process failed (it then validates in its own process). */
const LOADER_FAILED = 'loading the configuration in this process';

describe('the bundled command on a Node without process.getBuiltinModule (22.0-22.2)', () => {
  it('checks a configuration in its loader process', async () => {
    const { code, stdout, stderr } = await runCliToExit(['--check-config', '-c', configFile(LOOPBACK)], NO_GET_BUILTIN);
    expect(stderr).toContain('no getBuiltinModule: cli.js main');
    expect(stderr).not.toContain(LOADER_FAILED);
    expect({ code, stdout: stdout.trim() }).toMatchObject({ code: 0, stdout: expect.stringMatching(/^configuration ok/) as unknown });
  });

  it('relays on two uWS threads and drains on SIGTERM', async () => {
    const run = runCli(['-c', configFile(LOOPBACK), '--set', 'server.workers=2'], NO_GET_BUILTIN);
    const { ws_port } = await listening(run);
    expect(run.stderr()).toContain('no getBuiltinModule: thread.js thread');
    const clients = await connectMany(`ws://127.0.0.1:${ws_port}`, 4);
    clients[0]!.send('hello');
    for (const client of clients) expect((await client.received(1))[0]!.text).toBe('hello');
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
    expect(run.stderr()).not.toContain(LOADER_FAILED);
  });
});

describe('the bundled command at start', () => {
  it('evaluates the signal listeners before any other module of the bundle (SIGUSR1 must never reach the inspector)', () => {
    const dist = new URL('../../dist/', import.meta.url);
    const imports = (file: string): string[] => Array.from(readFileSync(new URL(file, dist), 'utf8').matchAll(/^\} from "\.\/([\w.-]+)";$|^import\s+(?:[\w{}\s,*]+\s+from\s+)?"\.\/([\w.-]+)";$/gm), (m) => m[1] ?? m[2] ?? '');
    // ES modules are evaluated depth first in import order: cli.js's first import, and nothing before it.
    const first = imports('cli.js')[0]!;
    expect(imports(first)).toEqual([]);
    expect(readFileSync(new URL(first, dist), 'utf8')).toMatch(/process\.on\(signal,/);
  });
});
