// Picking the uWebSockets.js build: the newest that loads natively, never the 20.30 package's pure-JS fallback,
// and one line saying what would work when nothing loads.
import { describe, expect, it } from 'vitest';
import { ConfigError, NativeBindingError } from '../../src/errors.js';
import { assertNative, compareVersions, loadUws, loadUwsBuild, type Runtime } from '../../src/relay/uws.js';

const native = { App: () => ({}), SSLApp: () => ({}), LIBUS_LISTEN_EXCLUSIVE_PORT: 1, us_socket_local_port: () => 0 };
const fallback = { App: () => ({}), _cfg: () => undefined, us_listen_socket_close: () => undefined, us_socket_local_port: () => 0 };
const node20Bookworm: Runtime = { node: 'v20.19.0', abi: '115', platform: 'linux', arch: 'x64', glibc: '2.36' };
const node24Trixie: Runtime = { node: 'v24.22.3', abi: '137', platform: 'linux', arch: 'x64', glibc: '2.41' };
const node22Bookworm: Runtime = { node: 'v22.12.0', abi: '127', platform: 'linux', arch: 'x64', glibc: '2.36' };
const glibcMissing = (): never => {
  throw new Error("This version of uWS.js (v20.57.0) supports only …\n\nError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found");
};

/** A loader that records what was asked and answers from `modules` (throwing for anything else). */
function loader(modules: Record<string, unknown>): { load: (id: string) => unknown; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    load: (id) => {
      asked.push(id);
      if (id in modules) return modules[id];
      return glibcMissing();
    },
  };
}

function nativeBindingError(run: () => unknown): NativeBindingError {
  try {
    run();
  } catch (err) {
    if (err instanceof NativeBindingError) return err;
    throw err;
  }
  throw new Error('expected a NativeBindingError');
}

describe('loadUwsBuild', () => {
  it('loads a native build on this machine', () => {
    const build = loadUwsBuild();
    expect(typeof build.uws.SSLApp).toBe('function');
    expect(['20.57.0', '20.30.0']).toContain(build.version);
    expect(loadUws()).toBe(build.uws);
  });

  it('prefers 20.57 where it loads, with its features', () => {
    const { load, asked } = loader({ 'uWebSockets.js': native });
    const build = loadUwsBuild({ load, runtime: node24Trixie });
    expect(build.version).toBe('20.57.0');
    expect(build.features).toMatchObject({ dropped: true, namesAbnormalCloses: true, httpRequestTimeoutS: 30 });
    expect(asked).toEqual(['uWebSockets.js']);
  });

  it("falls back to 20.30's Node 20 binary itself (never its package loader) when 20.57 does not load", () => {
    const binary = 'uWebSockets.js-20.30/binaries/uws_linux_x64_115.node';
    const { load, asked } = loader({ [binary]: native });
    const build = loadUwsBuild({ load, runtime: node20Bookworm });
    expect(build.version).toBe('20.30.0');
    expect(build.features).toMatchObject({ dropped: false, namesAbnormalCloses: false, httpRequestTimeoutS: 10 });
    // glibc 2.36 is known not to load 20.57: it is not even tried
    expect(asked).toEqual([binary]);
  });

  it('with glibc not read (as the relay starts), 20.57 is tried first and 20.30 is the fallback', () => {
    const binary = 'uWebSockets.js-20.30/binaries/uws_linux_x64_115.node';
    const { load, asked } = loader({ [binary]: native });
    expect(loadUwsBuild({ load, runtime: { ...node20Bookworm, glibc: undefined } }).version).toBe('20.30.0');
    expect(asked).toEqual(['uWebSockets.js', binary]);
  });

  it('a Node no build supports gets one line: Node, ABI, glibc, why each build fails, and what would work', () => {
    const { load, asked } = loader({});
    const err = nativeBindingError(() => loadUwsBuild({ load, runtime: node22Bookworm }));
    expect(asked).toEqual([]);
    expect(err.exitCode).toBe(3);
    expect(err.code).toBe('RELAY_ERR_NATIVE_BINDING');
    expect(err.message).not.toContain('\n');
    expect(err.message).toBe(
      'no uWebSockets.js native build runs on Node v22.12.0 (ABI 127, linux-x64, glibc 2.36): uWS 20.57.0 needs glibc >= 2.38; ' +
        'uWS 20.30.0 needs Node 20; the relay runs on Node 22, 24 or 25 with glibc >= 2.38 (Debian 13, Ubuntu 24.04, node:24-trixie-slim), or on Node 20',
    );
  });

  it("a load failure is reported by its dlopen line, not the loader's banner", () => {
    const err = nativeBindingError(() => loadUwsBuild({ load: glibcMissing, runtime: node24Trixie, force: '20.57' }));
    expect(err.message).toContain("(WEBSOCKET_RELAY_UWS=20.57): uWS 20.57.0 failed to load (Error: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found)");
    expect(err.message).not.toContain('\n');
  });

  it('refuses a module without the native exports (a pure-JS fallback)', () => {
    expect(() => assertNative(fallback)).toThrow(NativeBindingError);
    expect(() => loadUws(() => fallback)).toThrow(/loaded without its native exports/);
  });

  it('force picks one build only; an unknown name is a configuration error naming the variable', () => {
    const { load, asked } = loader({ 'uWebSockets.js': native, 'uWebSockets.js-20.30/binaries/uws_linux_x64_115.node': native });
    const runtime: Runtime = { ...node20Bookworm, glibc: '2.41' };
    expect(loadUwsBuild({ load, runtime, force: '20.30' }).version).toBe('20.30.0');
    expect(loadUwsBuild({ load, runtime, force: '20.57.0' }).version).toBe('20.57.0');
    expect(asked).toHaveLength(2);
    expect(() => loadUwsBuild({ load, runtime, force: 'newest' })).toThrow(ConfigError);
    expect(() => loadUwsBuild({ load, runtime, force: 'newest' })).toThrow('WEBSOCKET_RELAY_UWS: "newest" is not a uWS build');
  });

  it('musl Linux has no glibc for 20.57', () => {
    const err = nativeBindingError(() => loadUwsBuild({ load: loader({}).load, runtime: { ...node22Bookworm, glibc: null } }));
    expect(err.message).toContain('glibc none');
    expect(err.message).toContain('uWS 20.57.0 needs glibc >= 2.38 (this Linux has none: musl?)');
  });
});

describe('compareVersions', () => {
  it('compares dotted numbers numerically', () => {
    expect(compareVersions('2.36', '2.38')).toBe(-1);
    expect(compareVersions('2.38', '2.38')).toBe(0);
    expect(compareVersions('2.41', '2.38')).toBe(1);
    expect(compareVersions('2.100', '2.38')).toBe(1);
  });
});
