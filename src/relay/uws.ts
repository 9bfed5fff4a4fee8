// The only module that loads uWebSockets.js: refuses its slow JS fallback, and wraps listen/close as promises.
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import { ListenError, NativeBindingError } from '../errors.js';

/** The native module; its typings omit the LIBUS_LISTEN_EXCLUSIVE_PORT constant the binary exports. */
export type UwsModule = typeof Uws & { readonly LIBUS_LISTEN_EXCLUSIVE_PORT: number };
export type { TemplatedApp, WebSocket, WebSocketBehavior, HttpRequest, HttpResponse, us_listen_socket, us_socket_context_t } from 'uWebSockets.js';

/**
 * Loads uWebSockets.js and proves the native build is in use.
 * The package silently swaps in a pure-JS server when no binary matches this Node ABI; that fallback has no
 * SSLApp and no listen options, so we check for those and refuse to start without them.
 * @throws NativeBindingError naming the Node version and ABI
 */
export function loadUws(load: (id: string) => unknown = createRequire(import.meta.url)): UwsModule {
  let mod: unknown;
  try {
    mod = load('uWebSockets.js');
  } catch (err) {
    throw new NativeBindingError(describeMissing('it failed to load'), { cause: err });
  }
  assertNative(mod);
  return mod;
}

/** @throws NativeBindingError unless `mod` has the native exports the relay needs */
export function assertNative(mod: unknown): asserts mod is UwsModule {
  const m = mod as Partial<UwsModule> | null;
  if (
    typeof m?.App !== 'function' ||
    typeof m.SSLApp !== 'function' ||
    typeof m.LIBUS_LISTEN_EXCLUSIVE_PORT !== 'number' ||
    typeof m.us_socket_local_port !== 'function'
  ) {
    throw new NativeBindingError(describeMissing('only its pure-JS fallback loaded'));
  }
}

function describeMissing(what: string): string {
  return (
    `uWebSockets.js native binary is not available (${what}) for Node ${process.version} ` +
    `(ABI ${process.versions.modules}, ${process.platform}-${process.arch}); ` +
    `the relay needs Node 20 (ABI 115) on glibc >= 2.36 Linux or macOS`
  );
}

/** A bound listener: the token to close it with, and the port the kernel gave. */
export interface Listener {
  readonly token: Uws.us_listen_socket;
  readonly port: number;
}

/**
 * Listens exclusively on host:port (port 0 = any free port). By default uWS lets a second process bind the
 * same port and silently share its traffic; LIBUS_LISTEN_EXCLUSIVE_PORT makes that a startup error instead.
 * @throws ListenError when the address cannot be bound
 */
export function listen(uws: UwsModule, app: Uws.TemplatedApp, host: string, port: number, what: string): Promise<Listener> {
  return new Promise((resolve, reject) => {
    // The typings omit the (host, port, options, cb) overload that the native build has.
    const listenWithHost = app.listen as unknown as (
      host: string,
      port: number,
      options: number,
      cb: (token: Uws.us_listen_socket | false) => void,
    ) => void;
    listenWithHost.call(app, host, port, uws.LIBUS_LISTEN_EXCLUSIVE_PORT, (token) => {
      if (token === false) {
        reject(new ListenError(`${what}: cannot listen on ${host}:${port} (port in use, or address not available)`));
        return;
      }
      resolve({ token, port: uws.us_socket_local_port(token as unknown as Uws.us_socket) });
    });
  });
}

/**
 * Closes the app's listen sockets and every connection it still holds, without close frames. The native build has
 * `close()`; the typings of this version omit it.
 */
export function closeApp(app: Uws.TemplatedApp): void {
  (app as Uws.TemplatedApp & { close(): void }).close();
}
