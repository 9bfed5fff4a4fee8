// The only module that loads uWebSockets.js. Two native builds are installed; this picks the one that loads here,
// never runs the 20.30 package's slow pure-JS fallback, and wraps listen/close as promises.
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import { ConfigError, ListenError, NativeBindingError } from '../errors.js';

/** The native module (typings: uWS 20.57's, a superset of what the relay uses on 20.30). */
export type UwsModule = typeof Uws & { readonly LIBUS_LISTEN_EXCLUSIVE_PORT: number };
export type { TemplatedApp, WebSocket, WebSocketBehavior, HttpRequest, HttpResponse, us_listen_socket, us_socket_context_t } from 'uWebSockets.js';

/**
 * What the loaded build can do beyond what both builds share. Other rooms branch on these, never on a version.
 *
 * `dropped`: uWS calls the `dropped` behaviour handler, `(ws, message, isBinary)`, for every message it does not
 * queue to `ws` because the socket is over `maxBackpressure` (with `closeOnBackpressureLimit` the socket is also
 * being closed). `message` is valid only during the call. 20.30 accepts the handler and never calls it, so code
 * that needs to know about drops must fall back to `ws.getBufferedAmount()` there.
 *
 * `filter`: `app.filter((res, count) => …)` is called when any connection of the app (HTTP or WebSocket) opens
 * (count 1) or closes (count -1). 20.30 has no `filter`.
 *
 * `namesAbnormalCloses`: the close handler's message names every close without a close frame (1006):
 * "Received TCP FIN before WebSocket close frame" for a TCP drop (and for a socket closed by
 * closeOnBackpressureLimit), "Received invalid WebSocket frame" for a frame-level protocol violation. 20.30 gives
 * an empty message for all three.
 *
 * `httpRequestTimeoutS`: uWS drops a connection that has not completed its HTTP request (the upgrade) this long
 * after it opened, whatever it trickles; uWS checks every 4 s, so the drop comes up to 4 s later.
 *
 * `closesUpgradeOnConnectionClose`: an upgrade completed inside res.cork() after its upgrade handler returned (an
 * asynchronous admission) is closed right after its 101 when the request said "Connection: close": 20.30's cork()
 * reads that flag from the response after the upgrade (uNetworking/uWebSockets#1929). 20.57 keeps the socket.
 *
 * `upgradesOutsideCork`: an upgrade answered after its upgrade handler returned may be completed outside res.cork().
 * Inside it, both builds' cork() reads the response's HTTP state after its callback even when the callback upgraded the
 * socket (the same uWS bug), memory the new WebSocket owns by then, and 20.57 dropped about one such socket in 300
 * right after its 101. 20.57 completes it outside cork() and prints one warning per thread about a write outside
 * cork(); 20.30 warns on every such upgrade and aborts the process on one whose request said "Connection: close", so
 * there the hub stays inside cork() and takes the socket in only once cork() has returned (see Hub).
 */
export interface UwsFeatures {
  readonly dropped: boolean;
  readonly filter: boolean;
  readonly namesAbnormalCloses: boolean;
  readonly httpRequestTimeoutS: number;
  readonly closesUpgradeOnConnectionClose: boolean;
  readonly upgradesOutsideCork: boolean;
}

/** The build in use: the module, its version and what it adds. */
export interface UwsBuild {
  readonly uws: UwsModule;
  /** e.g. "20.57.0" (the relay_build_info uws_version label). */
  readonly version: string;
  readonly features: UwsFeatures;
}

/** Environment variable that forces one build (20.57 or 20.30); the CLI passes it to loadUwsBuild. */
export const UWS_BUILD_ENV = 'WEBSOCKET_RELAY_UWS';

/** Linux builds of 20.57 link against this glibc; older systems cannot load them. */
const MIN_GLIBC_20_57 = '2.38';

interface BuildSpec {
  readonly version: string;
  /** What `WEBSOCKET_RELAY_UWS` accepts for it. */
  readonly name: string;
  /** The id to require on this runtime. */
  readonly id: (rt: Runtime) => string;
  /** Why it cannot load here, when that follows from the runtime alone; null when it should load. */
  readonly unsupported: (rt: Runtime) => string | null;
  readonly features: UwsFeatures;
}

/** Preferred first. */
const BUILDS: readonly BuildSpec[] = [
  {
    version: '20.57.0',
    name: '20.57',
    // The package's own loader: it throws (no fallback) when its binary does not load.
    id: () => 'uWebSockets.js',
    unsupported: (rt) => {
      if (!['115', '127', '137', '141'].includes(rt.abi)) return 'needs Node 20, 22, 24 or 25';
      // Unread, the load itself decides (reading it costs a diagnostic report: 1-1.5 MB of resident memory).
      if (rt.platform !== 'linux' || rt.glibc === undefined) return null;
      if (rt.glibc === null) return `needs glibc >= ${MIN_GLIBC_20_57} (this Linux has none: musl?)`;
      return compareVersions(rt.glibc, MIN_GLIBC_20_57) < 0 ? `needs glibc >= ${MIN_GLIBC_20_57}` : null;
    },
    features: { dropped: true, filter: true, namesAbnormalCloses: true, httpRequestTimeoutS: 30, closesUpgradeOnConnectionClose: false, upgradesOutsideCork: true },
  },
  {
    version: '20.30.0',
    name: '20.30',
    // The binary itself: the package's loader falls back to a pure-JS server, with console output, when it fails.
    id: (rt) => `uWebSockets.js-20.30/binaries/uws_${rt.platform}_${rt.arch}_${rt.abi}.node`,
    unsupported: (rt) => (rt.abi === '115' ? null : 'needs Node 20'),
    features: { dropped: false, filter: false, namesAbnormalCloses: false, httpRequestTimeoutS: 10, closesUpgradeOnConnectionClose: true, upgradesOutsideCork: false },
  },
];

/** The facts about this process that decide which build can load. */
export interface Runtime {
  readonly node: string;
  readonly abi: string;
  readonly platform: string;
  readonly arch: string;
  /** glibc version on Linux; null elsewhere or on musl; undefined when not read. */
  readonly glibc: string | null | undefined;
}

/**
 * This process's runtime. glibc is read only when asked for: node has no cheaper way than a whole diagnostic report,
 * which loads modules and allocates that a relay would keep for its life.
 */
export function currentRuntime(withGlibc = false): Runtime {
  let glibc: string | null | undefined = withGlibc ? null : undefined;
  if (withGlibc && process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    glibc = header?.glibcVersionRuntime ?? null;
  }
  return { node: process.version, abi: process.versions.modules, platform: process.platform, arch: process.arch, glibc };
}

export interface LoadOptions {
  /** Force one build: "20.57" or "20.30" (the value of WEBSOCKET_RELAY_UWS); undefined or "" = pick. */
  readonly force?: string | undefined;
  readonly load?: (id: string) => unknown;
  /** For tests; computed from this process when omitted (only if a build fails to load). */
  readonly runtime?: Runtime;
}

/**
 * Loads the newest build that loads natively here: 20.57 (Node 20-25; glibc >= 2.38 on Linux), else 20.30 (Node 20).
 * @throws NativeBindingError (one line: Node version, ABI, platform, glibc, and what would work)
 * @throws ConfigError when `force` names no build
 */
export function loadUwsBuild(options: LoadOptions = {}): UwsBuild {
  const load = options.load ?? createRequire(import.meta.url);
  const force = options.force ?? '';
  let candidates = BUILDS;
  if (force !== '') {
    candidates = BUILDS.filter((b) => b.name === force || b.version === force);
    if (candidates.length === 0) {
      throw new ConfigError([`${UWS_BUILD_ENV}: "${force}" is not a uWS build; use ${BUILDS.map((b) => b.name).join(' or ')}, or unset it`]);
    }
  }
  let rt = options.runtime ?? currentRuntime();
  /** Why each build did not load. */
  const failures: { build: BuildSpec; why: string }[] = [];
  for (const build of candidates) {
    const unsupported = build.unsupported(rt);
    if (unsupported !== null) {
      failures.push({ build, why: unsupported });
      continue;
    }
    let mod: unknown;
    try {
      mod = load(build.id(rt));
    } catch (err) {
      failures.push({ build, why: `failed to load (${firstLine(err)})` });
      continue;
    }
    if (!isNative(mod)) {
      failures.push({ build, why: 'loaded without its native exports' });
      continue;
    }
    return { uws: mod, version: build.version, features: build.features };
  }
  // Nothing loaded: the message says which glibc this is, and a build that needs a newer one says so rather than
  // quoting its loader.
  if (rt.glibc === undefined) rt = { ...rt, glibc: currentRuntime(true).glibc };
  const full = rt;
  const reasons = failures.map(({ build, why }) => `uWS ${build.version} ${build.unsupported(full) ?? why}`);
  const forced = force === '' ? '' : ` (${UWS_BUILD_ENV}=${force})`;
  throw new NativeBindingError(
    `no uWebSockets.js native build runs on Node ${rt.node} (ABI ${rt.abi}, ${rt.platform}-${rt.arch}, ` +
      `glibc ${rt.glibc ?? 'none'})${forced}: ${reasons.join('; ')}; ` +
      `the relay runs on Node 22, 24 or 25 with glibc >= ${MIN_GLIBC_20_57} (Debian 13, Ubuntu 24.04, node:24-trixie-slim), or on Node 20`,
  );
}

/**
 * Loads uWebSockets.js (see loadUwsBuild) and returns the module only.
 * @throws NativeBindingError naming the Node version and ABI
 */
export function loadUws(load?: (id: string) => unknown): UwsModule {
  return loadUwsBuild(load === undefined ? {} : { load }).uws;
}

/** @throws NativeBindingError unless `mod` has the native exports the relay needs (a JS fallback lacks them) */
export function assertNative(mod: unknown): asserts mod is UwsModule {
  if (!isNative(mod)) {
    throw new NativeBindingError(
      `uWebSockets.js native binary is not available (only a pure-JS fallback loaded) for Node ${process.version} ` +
        `(ABI ${process.versions.modules}, ${process.platform}-${process.arch})`,
    );
  }
}

function isNative(mod: unknown): mod is UwsModule {
  const m = mod as Partial<UwsModule> | null;
  return (
    typeof m?.App === 'function' &&
    typeof m.SSLApp === 'function' &&
    typeof m.LIBUS_LISTEN_EXCLUSIVE_PORT === 'number' &&
    typeof m.us_socket_local_port === 'function'
  );
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // 20.57's loader puts its own banner first and the dlopen error (the useful part) last.
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return (lines.find((l) => /GLIBC|cannot open|invalid ELF|Module did not self-register|NODE_MODULE_VERSION/.test(l)) ?? lines[0] ?? '').trim();
}

/** -1, 0 or 1 for dotted numeric versions ("2.36" < "2.38"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** A bound listener: the token to close it with, and the port the kernel gave. */
export interface Listener {
  readonly token: Uws.us_listen_socket;
  readonly port: number;
}

/**
 * Listens on host:port (port 0 = any free port). Without LIBUS_LISTEN_EXCLUSIVE_PORT uWS sets SO_REUSEPORT, so a
 * second process could bind the same port and silently share its traffic: a single thread listens exclusively;
 * `shared` listeners (one per uWS thread of this process) are guarded by claimPort first.
 * @throws ListenError when the address cannot be bound
 */
export function listen(uws: UwsModule, app: Uws.TemplatedApp, host: string, port: number, what: string, shared = false): Promise<Listener> {
  return new Promise((resolve) => resolve(listenNow(uws, app, host, port, what, shared)));
}

/** listen(), synchronously: uWS binds within the call. @throws ListenError */
export function listenNow(uws: UwsModule, app: Uws.TemplatedApp, host: string, port: number, what: string, shared = false): Listener {
  // The typings omit the (host, port, options, cb) overload that both native builds have.
  const listenWithHost = app.listen as unknown as (host: string, port: number, options: number, cb: (token: Uws.us_listen_socket | false) => void) => void;
  let bound: Uws.us_listen_socket | false = false;
  listenWithHost.call(app, host, port, shared ? 0 : uws.LIBUS_LISTEN_EXCLUSIVE_PORT, (token) => {
    bound = token;
  });
  if (bound === false) throw new ListenError(`${what}: cannot listen on ${host}:${port} (port in use, or address not available)`);
  return { token: bound, port: uws.us_socket_local_port(bound as unknown as Uws.us_socket) };
}

/** Closes the app's listen sockets and every connection it still holds, without close frames (both builds). */
export function closeApp(app: Uws.TemplatedApp): void {
  app.close();
}

/**
 * Proves host:port is free before the process's threads bind it together with SO_REUSEPORT, which would otherwise
 * let them join a port another process (a second relay) holds: an exclusive bind, closed at once. For port 0 it picks
 * the free port the threads then share (uWS cannot join a port 0 bind).
 * @returns the port to bind
 * @throws ListenError when the port is taken
 */
export async function claimPort(uws: UwsModule, host: string, port: number, what: string): Promise<number> {
  const probe = uws.App();
  const bound = await listen(uws, probe, host, port, what);
  uws.us_listen_socket_close(bound.token);
  closeApp(probe);
  return bound.port;
}
