// The configuration validated in a loader process of its own (src/config/apart.ts) is the one loadConfig gives in this
// process: same values, frozen, and the same problems, one per line, for a configuration that is refused.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LoaderFailure, loadConfigApart, loadConfigApartAsync } from '../../src/config/apart.js';
import { loadConfig, type LoadOptions } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { configFiles, listening, LOOPBACK, runCli, runCliToExit } from '../helpers/cli.js';
import { within } from '../helpers/wait.js';

const { configFile } = configFiles('relay-apart-');
/** A preload that makes the loader process exit without an answer. */
const BREAK_LOADER = { NODE_OPTIONS: `--import=${fileURLToPath(new URL('../fixtures/break-loader.mjs', import.meta.url))}` };

function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

describe('configuration loaded in a process of its own', () => {
  const options: LoadOptions = {
    file: configFile('server: { port: 0 }\nrelay: { rooms: true, soft_backpressure_bytes: null }\nsecurity: { auth: token, tokens: [abcdefghijklmnop] }\n'),
    env: { RELAY_LOG__LEVEL: 'warn', RELAY_SERVER__TLS__PASSPHRASE: '123456', HOME: '/root' },
    set: ['metrics.port=0'],
  };

  it('is the configuration loadConfig gives here, frozen, from the file, the environment and --set alike', async () => {
    const here = loadConfig(options);
    const apart = loadConfigApart(options);
    expect(apart).toEqual(here);
    expect(await loadConfigApartAsync(options)).toEqual(here);
    expect(apart.log.level).toBe('warn');
    expect(apart.server.tls.passphrase).toBe('123456');
    expect(Object.isFrozen(apart) && Object.isFrozen(apart.security.tokens)).toBe(true);
  });

  it('refuses what loadConfig refuses, with the same problems', async () => {
    const bad: LoadOptions = { file: configFile('server: { port: 70000, nope: 1 }\n'), env: { RELAY_RELAY__ECHO: 'maybe' } };
    const expected = problemsOf(() => loadConfig(bad));
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(problemsOf(() => loadConfigApart(bad))).toEqual(expected);
    await expect(loadConfigApartAsync(bad)).rejects.toMatchObject({ problems: expected });
    expect(problemsOf(() => loadConfigApart({ file: '/nonexistent/relay.yaml' }))).toEqual(problemsOf(() => loadConfig({ file: '/nonexistent/relay.yaml' })));
  });

  it('a loader that cannot answer is a LoaderFailure; the CLI then validates in its own process and says so', async () => {
    const saved = process.env['NODE_OPTIONS'];
    process.env['NODE_OPTIONS'] = BREAK_LOADER.NODE_OPTIONS;
    try {
      expect(() => loadConfigApart({ file: null })).toThrow(LoaderFailure);
      await expect(loadConfigApartAsync({ file: null })).rejects.toThrow(/exited with 70 without an answer/);
    } finally {
      if (saved === undefined) delete process.env['NODE_OPTIONS'];
      else process.env['NODE_OPTIONS'] = saved;
    }
    const run = runCli(['-c', configFile(LOOPBACK)], BREAK_LOADER);
    await listening(run);
    expect(run.stderr()).toContain('the configuration loader exited with 70 without an answer; loading the configuration in this process');
    run.child.kill('SIGTERM');
    expect(await within(run.exited, 15_000, 'the relay to exit')).toBe(0);
    const refused = await runCliToExit(['-c', configFile('server: { port: 70000 }\n')], BREAK_LOADER);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('server.port: must be <= 65535');
  });
});
