// Build products keyed by a hash of their sources, so a changed source rebuilds and a fresh clone
// builds on first use with no separate step.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BUILD_DIR } from './paths.js';

/**
 * Returns the path of `name` (ending in `extension`) built from `sources`, running `produce(tmpPath)` only when no build for
 * these exact sources exists yet. `produce` writes to a temporary path that is renamed into place, so
 * an interrupted build never leaves a half-written binary that looks finished.
 */
export async function cachedBuild(name: string, extension: string, sources: readonly string[], produce: (out: string) => Promise<void>): Promise<string> {
  const hash = createHash('sha256');
  for (const file of sources) hash.update(readFileSync(file));
  const out = path.join(BUILD_DIR, `${name}-${hash.digest('hex').slice(0, 12)}${extension}`);
  if (existsSync(out)) return out;
  mkdirSync(BUILD_DIR, { recursive: true });
  // The temporary name keeps the extension: node picks the module format from it.
  const tmp = `${out.slice(0, out.length - extension.length)}.tmp-${process.pid}${extension}`;
  await produce(tmp);
  renameSync(tmp, out);
  removeStale(name, extension, path.basename(out));
  return out;
}

/** Builds of older sources are never used again; only the one just made is kept. */
function removeStale(name: string, extension: string, keep: string): void {
  for (const file of readdirSync(BUILD_DIR)) {
    const hash = file.startsWith(`${name}-`) && file.endsWith(extension) ? file.slice(name.length + 1, file.length - extension.length) : '';
    if (file !== keep && /^[0-9a-f]{12}$/.test(hash)) rmSync(path.join(BUILD_DIR, file), { force: true });
  }
}
