// The two Node peers beside the relay: bare uWS (the ceiling) and `ws` (the usual Node choice).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT_DIR } from '../paths.js';
import { profileArgs, startServer } from './process.js';
import { transpiled } from './transpile.js';
import type { Peer, PeerInstance, StartOptions } from './types.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function nodePeer(name: string, description: string, file: string, rooms = false): Peer {
  return {
    name,
    description,
    rooms,
    unavailable: () => Promise.resolve(null),
    async start(options: StartOptions): Promise<PeerInstance> {
      const script = await transpiled(name, path.join(HERE, file));
      const env = options.rooms ? { BENCH_ROOMS: '1' } : {};
      const server = await startServer({ name, command: process.execPath, args: [...profileArgs(options.profileDir), script], env, cwd: ROOT_DIR, cpus: options.cpus });
      return { urls: [`ws://127.0.0.1:${server.port}/`], pids: [server.pid], close: () => server.stop() };
    },
  };
}

export const uwsRaw = nodePeer('uws-raw', 'bare uWebSockets.js: subscribe in open, app.publish in message', 'uws-raw.server.ts', true);
export const wsPeer = nodePeer('ws', 'the ws package, looping send over every client', 'ws.server.ts');
