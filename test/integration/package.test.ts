// The package as an embedder gets it: `npm pack`, installed from the tarball into an empty project (offline, from
// the npm cache that `npm ci` filled), imported by name in TypeScript, type-checked and run; and its command (the
// bundled dist/cli.js) run through the link npm made for it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const dir = mkdtempSync(join(tmpdir(), 'relay-package-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Lock {
  packages: Record<string, { dev?: boolean }>;
}

/**
 * A lockfile for a project whose one dependency is the tarball: the tarball's own dependencies are pinned to this
 * repository's lock, so `npm ci --offline` installs them from the cache without asking the registry.
 */
function consumerLock(tarball: string): object {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: object; bin: object };
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { 'websocket-relay': `file:${tarball}` } },
    'node_modules/websocket-relay': { version: pkg.version, resolved: `file:${tarball}`, dependencies: pkg.dependencies, bin: pkg.bin },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path.startsWith('node_modules/') && entry.dev !== true) packages[path] = entry;
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

const CONSUMER = `
import { start, parseConfig, createLogger, CloseCode, ExitCode, ConfigError, type Admission, type Config, type Relay } from 'websocket-relay';

const config: Config = parseConfig({ server: { host: '127.0.0.1', port: 0 }, metrics: { enabled: false }, log: { level: 'silent' } });
// @ts-expect-error the types are real: a port is a number
const wrong: Config['server']['port'] = 'eighty';
void wrong;
const admission: Admission = { admit: (info) => ({ ok: true, ip: info.peerIp, protocol: '', state: null }) };
const relay: Relay = await start(config, { logger: createLogger('silent'), extensions: () => ({ admission }) });
let internal = 'exported';
try {
  await import('websocket-relay/dist/relay/hub.js' as string);
} catch (err) {
  internal = (err as { code?: string }).code ?? String(err);
}
process.stdout.write(JSON.stringify({ port: relay.wsPort, goingAway: CloseCode.goingAway, config: ExitCode.config, isError: new ConfigError(['x']) instanceof Error, internal }));
await relay.close();
`;

describe('the packed package', () => {
  it('installs from its tarball and imports by name in TypeScript, with types, exposing no internals; its command runs', { timeout: 120_000 }, async () => {
    const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT });
    const tarball = join(dir, packed.stdout.trim().split('\n').pop() ?? '');
    const project = join(dir, 'consumer');
    await run('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { 'websocket-relay': `file:${tarball}` } }));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(consumerLock(tarball)));
    await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project });

    writeFileSync(join(project, 'main.ts'), CONSUMER);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          // the embedder brings its own @types/node; borrow this repository's
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['main.ts'],
      }),
    );
    const compiled = await run(process.execPath, [TSC, '-p', project]).catch((err: { stdout?: string }) => err);
    expect('stdout' in compiled ? compiled.stdout : '').toBe('');
    const { stdout } = await run(process.execPath, [join(project, 'main.js')], { cwd: project });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ goingAway: 1001, config: 2, isError: true, internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
    expect(out['port']).toBeGreaterThan(0);

    // The command: the link runs `#!/usr/bin/env -S node ...`, with this node first on PATH. --check-config runs the
    // configuration loader process from the package too (the CLI says so on stderr when it cannot).
    const env = { PATH: `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}` };
    const bin = join(project, 'node_modules', '.bin', 'websocket-relay');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await run(bin, ['--version'], { env })).toEqual({ stdout: `${pkg.version}\n`, stderr: '' });
    const config = join(project, 'relay.yaml');
    writeFileSync(config, 'server: { port: 0 }\nmetrics: { enabled: false }\n');
    expect(await run(bin, ['--check-config', '-c', config], { env })).toEqual({ stdout: `configuration ok: ${config}\n`, stderr: '' });
  });
});
