// This project, built, with its default config (metrics on), started through its CLI; only the
// listeners move to loopback and free ports, through the documented env overrides.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../paths.js';
import { benchCertificate, tlsMissing } from '../tls.js';
import { profileArgs, runtimeOf, startServer } from './process.js';
import type { ServerProcess } from './process.js';
import type { Peer, PeerInstance, StartOptions } from './types.js';

export const RELAY_CLI = path.join(ROOT_DIR, 'dist', 'cli.js');

/** The node flags of the relay's start command (npm start, the bin's shebang, the image's entrypoint). */
export const RELAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
const CONFIG = path.join(ROOT_DIR, 'config', 'relay.yaml');

/** null when dist/cli.js exists, otherwise the note the peer is skipped with */
export const relayMissing = (): string | null => (existsSync(RELAY_CLI) ? null : 'dist/cli.js missing (run npm run build)');

/**
 * One relay process on loopback with free ports; `env` adds overrides (the cluster peer's backplane). `root` is the
 * checkout whose build and config/relay.yaml run: this one, or another build to compare (BASELINE_ENV).
 */
export function startRelay(name: string, options: StartOptions, env: NodeJS.ProcessEnv = {}, root = ROOT_DIR): Promise<ServerProcess> {
  const [cli, config] = root === ROOT_DIR ? [RELAY_CLI, CONFIG] : [path.join(root, 'dist', 'cli.js'), path.join(root, 'config', 'relay.yaml')];
  return startServer({
    name,
    command: process.execPath,
    // --relay-node-flags come after the start command's own, so they override them
    args: [...RELAY_NODE_FLAGS, ...(options.relay?.nodeFlags ?? []), ...profileArgs(options.profileDir), cli, '--config-file', config],
    cwd: root,
    cpus: options.cpus,
    env: {
      RELAY_SERVER__HOST: '127.0.0.1',
      RELAY_SERVER__PORT: '0',
      RELAY_METRICS__HOST: '127.0.0.1',
      RELAY_METRICS__PORT: '0',
      ...(options.rooms ? { RELAY_RELAY__ROOMS: 'true' } : {}),
      ...options.relay?.env,
      ...env,
    },
  });
}

export const relay: Peer = {
  name: 'relay',
  description: `this project: node ${RELAY_NODE_FLAGS.join(' ')} dist/cli.js --config-file config/relay.yaml (server.workers: auto)`,
  rooms: true,
  unavailable: () => Promise.resolve(relayMissing()),
  async start(options: StartOptions): Promise<PeerInstance> {
    const server = await startRelay('relay', options);
    return { urls: [`ws://127.0.0.1:${server.port}/`], pids: [server.pid], runtime: runtimeOf(server.listening), close: () => server.stop() };
  },
};

/** The relay with TLS on (server.tls.cert_file and key_file, a self-signed P-256 certificate): wss://. */
export const relayTls: Peer = {
  name: 'relay-tls',
  description: 'this project with server.tls set (self-signed P-256 certificate): wss://',
  rooms: true,
  async unavailable(): Promise<string | null> {
    return relayMissing() ?? (await tlsMissing());
  },
  async start(options: StartOptions): Promise<PeerInstance> {
    const { cert, key } = await benchCertificate();
    const server = await startRelay('relay-tls', options, { RELAY_SERVER__TLS__CERT_FILE: cert, RELAY_SERVER__TLS__KEY_FILE: key });
    return { urls: [`wss://127.0.0.1:${server.port}/`], pids: [server.pid], runtime: runtimeOf(server.listening), close: () => server.stop() };
  },
};

/**
 * The relay with server.workers set: `relay-w1` is one uWS thread whatever the machine, `relay-w2` two, `relay-w4`
 * four (the `relay` peer runs the default, auto: as many as the server's cores, see --server-cpus).
 */
function relayWorkers(workers: number): Peer {
  return {
    name: `relay-w${workers}`,
    description: `this project with server.workers: ${workers}`,
    rooms: true,
    unavailable: () => Promise.resolve(relayMissing()),
    async start(options: StartOptions): Promise<PeerInstance> {
      const server = await startRelay(`relay-w${workers}`, options, { RELAY_SERVER__WORKERS: String(workers) });
      return { urls: [`ws://127.0.0.1:${server.port}/`], pids: [server.pid], runtime: runtimeOf(server.listening), close: () => server.stop() };
    },
  };
}

export const relayW1 = relayWorkers(1);
export const relayW2 = relayWorkers(2);
export const relayW4 = relayWorkers(4);

/**
 * Where the baseline peers find the build they compare with: a checkout of this project (another commit), built
 * (`npm ci && npm run build` there). Its relay runs with its own config/relay.yaml.
 */
export const BASELINE_ENV = 'BENCH_BASELINE_ROOT';

/**
 * `relay-w1-baseline`, `relay-w2-baseline`: the relay of the checkout at BENCH_BASELINE_ROOT with server.workers 1
 * or 2, so that one run measures two builds round by round (a change's gain or cost against the noise).
 */
function baselineWorkers(workers: number): Peer {
  const name = `relay-w${workers}-baseline`;
  const root = (): string | undefined => process.env[BASELINE_ENV];
  return {
    name,
    description: `the build at $${BASELINE_ENV} with server.workers: ${workers}`,
    rooms: true,
    unavailable(): Promise<string | null> {
      const dir = root();
      if (dir === undefined || dir === '') return Promise.resolve(`${BASELINE_ENV} not set (a built checkout to compare with)`);
      return Promise.resolve(existsSync(path.join(dir, 'dist', 'cli.js')) ? null : `${dir}/dist/cli.js missing (run npm run build there)`);
    },
    async start(options: StartOptions): Promise<PeerInstance> {
      const server = await startRelay(name, options, { RELAY_SERVER__WORKERS: String(workers) }, path.resolve(root() as string));
      return { urls: [`ws://127.0.0.1:${server.port}/`], pids: [server.pid], runtime: runtimeOf(server.listening), close: () => server.stop() };
    },
  };
}

export const relayW1Baseline = baselineWorkers(1);
export const relayW2Baseline = baselineWorkers(2);
