// The Go hub design, built from Debian's golang-go and golang-github-gorilla-websocket-dev with no
// network: GOPATH mode against the packaged sources in /usr/share/gocode.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedBuild, nativeBuildDir } from '../build-cache.js';
import { run } from '../exec.js';
import { BUILD_DIR } from '../paths.js';
import { startServer } from './process.js';
import type { Peer, PeerInstance, StartOptions } from './types.js';

const SOURCE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gorilla');
const GOPATH = process.env.BENCH_GOPATH ?? '/usr/share/gocode';

const goEnv = {
  GO111MODULE: 'off',
  GOPATH,
  GOFLAGS: '',
  GOCACHE: path.join(BUILD_DIR, 'go-cache'),
};

let built: Promise<string> | null = null;

function build(): Promise<string> {
  built ??= cachedBuild('gorilla-peer', '', [path.join(SOURCE_DIR, 'main.go')], async (out) => {
    const result = await run('go', ['build', '-o', out, '.'], { cwd: SOURCE_DIR, env: goEnv, timeoutMs: 300_000 });
    if (result.code !== 0) throw new Error(result.stderr.trim().split('\n').slice(0, 3).join(' / '));
  }, nativeBuildDir());
  return built;
}

export const gorilla: Peer = {
  name: 'gorilla',
  description: 'Go, gorilla/websocket: one hub goroutine looping WriteMessage over every client',
  async unavailable(): Promise<string | null> {
    const go = await run('go', ['version']);
    if (go.code !== 0) return 'skipped: go not installed (Debian: apt install golang-go golang-github-gorilla-websocket-dev)';
    try {
      await build();
      return null;
    } catch (err) {
      return `skipped: could not build with gorilla/websocket from ${GOPATH} (Debian: golang-github-gorilla-websocket-dev): ${(err as Error).message}`;
    }
  },
  async start(options: StartOptions): Promise<PeerInstance> {
    const binary = await build();
    const server = await startServer({ name: 'gorilla', command: binary, args: [], cpus: options.cpus });
    return { urls: [`ws://127.0.0.1:${server.port}/`], pids: [server.pid], close: () => server.stop() };
  },
};
