// Build products keyed by a hash of their sources, so a changed source rebuilds and a fresh clone
// builds on first use with no separate step.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BUILD_DIR } from './paths.js';

let target: string | undefined;

/**
 * The machine a native build runs on, e.g. `linux-x64-glibc2.36`: a binary linked against one glibc may not start
 * on an older one. The Node 24 suite's Debian 13 root shares bench/.build with the host (scripts/node24/run.sh).
 */
export function nativeTarget(): string {
  if (target === undefined) {
    const header = process.platform === 'linux' ? (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header : undefined;
    const libc = process.platform !== 'linux' ? '' : header?.glibcVersionRuntime === undefined ? '-musl' : `-glibc${header.glibcVersionRuntime}`;
    target = `${process.platform}-${process.arch}${libc}`;
  }
  return target;
}

/** Where native builds for this machine are kept: one folder per nativeTarget(). */
export function nativeBuildDir(): string {
  return path.join(BUILD_DIR, nativeTarget());
}

/**
 * Returns the path of `name` (ending in `extension`) built from `sources` in `dir`, running `produce(tmpPath)` only
 * when no build for these exact sources exists there yet. `produce` writes to a temporary path that is renamed into
 * place, so an interrupted build never leaves a half-written binary that looks finished.
 */
export async function cachedBuild(name: string, extension: string, sources: readonly string[], produce: (out: string) => Promise<void>, dir = BUILD_DIR): Promise<string> {
  const hash = createHash('sha256');
  for (const file of sources) hash.update(readFileSync(file));
  const out = path.join(dir, `${name}-${hash.digest('hex').slice(0, 12)}${extension}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  // The temporary name keeps the extension: node picks the module format from it.
  const tmp = `${out.slice(0, out.length - extension.length)}.tmp-${process.pid}${extension}`;
  await produce(tmp);
  renameSync(tmp, out);
  removeStale(dir, name, extension, path.basename(out));
  return out;
}

/** Builds of older sources are never used again; only the one just made is kept. */
function removeStale(dir: string, name: string, extension: string, keep: string): void {
  for (const file of readdirSync(dir)) {
    const hash = file.startsWith(`${name}-`) && file.endsWith(extension) ? file.slice(name.length + 1, file.length - extension.length) : '';
    if (file !== keep && /^[0-9a-f]{12}$/.test(hash)) rmSync(path.join(dir, file), { force: true });
  }
}
