// The native-build guard: the relay never runs on uWebSockets.js's slow pure-JS fallback.
import { describe, expect, it } from 'vitest';
import { NativeBindingError } from '../../src/errors.js';
import { assertNative, loadUws } from '../../src/relay/uws.js';

describe('native build guard', () => {
  it('loads the native module on this machine', () => {
    const uws = loadUws();
    expect(typeof uws.SSLApp).toBe('function');
    expect(typeof uws.LIBUS_LISTEN_EXCLUSIVE_PORT).toBe('number');
  });

  it('rejects the fallback shape (App only, no SSLApp, no listen options)', () => {
    const fallback = { App: () => ({}), _cfg: () => undefined, us_listen_socket_close: () => undefined, us_socket_local_port: () => 0 };
    expect(() => assertNative(fallback)).toThrow(NativeBindingError);
    expect(() => loadUws(() => fallback)).toThrow(/ABI \d+/);
  });

  it('reports a module that fails to load at all', () => {
    const err = (() => {
      try {
        loadUws(() => {
          throw new Error('cannot open shared object');
        });
      } catch (e) {
        return e as NativeBindingError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(NativeBindingError);
    expect(err!.code).toBe('RELAY_ERR_NATIVE_BINDING');
    expect(err!.exitCode).toBe(3);
    expect(err!.message).toContain(process.version);
  });
});
