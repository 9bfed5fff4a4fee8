// The two Node peers beside the relay: bare uWS (the ceiling) and `ws` (the usual Node choice).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT_DIR } from '../paths.js';
import { benchCertificate, tlsMissing } from '../tls.js';
import { profileArgs, runtimeOf, startServer } from './process.js';
import { transpiled } from './transpile.js';
import type { Peer, PeerInstance, StartOptions } from './types.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function nodePeer(name: string, description: string, file: string, rooms = false, tls = false): Peer {
  return {
    name,
    description,
    rooms,
    unavailable: () => (tls ? tlsMissing() : Promise.resolve(null)),
    async start(options: StartOptions): Promise<PeerInstance> {
      const script = await transpiled(name.replace(/-tls$/, ''), path.join(HERE, file));
      const env: NodeJS.ProcessEnv = options.rooms ? { BENCH_ROOMS: '1' } : {};
      if (tls) {
        const { cert, key } = await benchCertificate();
        Object.assign(env, { BENCH_TLS_CERT: cert, BENCH_TLS_KEY: key });
      }
      const server = await startServer({ name, command: process.execPath, args: [...profileArgs(options.profileDir), script], env, cwd: ROOT_DIR, cpus: options.cpus });
      return { urls: [`${tls ? 'wss' : 'ws'}://127.0.0.1:${server.port}/`], pids: [server.pid], runtime: runtimeOf(server.listening), close: () => server.stop() };
    },
  };
}

export const uwsRaw = nodePeer('uws-raw', 'bare uWebSockets.js: subscribe in open, app.publish in message', 'uws-raw.server.ts', true);
export const uwsRawTls = nodePeer('uws-raw-tls', 'bare uWebSockets.js with TLS (SSLApp, the same certificate as relay-tls): wss://', 'uws-raw.server.ts', true, true);
export const wsPeer = nodePeer('ws', 'the ws package, looping send over every client', 'ws.server.ts');
