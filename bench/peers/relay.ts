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

/** One relay process on loopback with free ports; `env` adds overrides (the cluster peer's backplane). */
export function startRelay(name: string, options: StartOptions, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  return startServer({
    name,
    command: process.execPath,
    // --relay-node-flags come after the start command's own, so they override them
    args: [...RELAY_NODE_FLAGS, ...(options.relay?.nodeFlags ?? []), ...profileArgs(options.profileDir), RELAY_CLI, '--config-file', CONFIG],
    cwd: ROOT_DIR,
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
