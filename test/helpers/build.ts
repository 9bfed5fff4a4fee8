// Vitest global setup: tests that run dist/ (the CLI as a child process, the packed package) must never run a build
// older than src/. `npm test` builds first; when vitest is started alone and dist/ is stale or missing, this
// builds it once before any test file runs.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Newest modification time (ms) of the files under `dir` (recursively). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** True when dist/ is missing or older than anything it is built from. */
export function buildIsStale(root = ROOT): boolean {
  // tsc writes index.js, then the bundle step writes bundle.json last (scripts/bundle.mjs).
  const stamps = [join(root, 'dist', 'index.js'), join(root, 'dist', 'bundle.json')];
  if (!stamps.every((stamp) => existsSync(stamp))) return true;
  const built = Math.min(...stamps.map((stamp) => statSync(stamp).mtimeMs));
  const inputs = [join(root, 'tsconfig.build.json'), join(root, 'tsconfig.json'), join(root, 'scripts', 'bundle.mjs')];
  return Math.max(newest(join(root, 'src')), ...inputs.map((file) => statSync(file).mtimeMs)) > built;
}

export default function setup(): void {
  if (!buildIsStale()) return;
  process.stderr.write('dist/ is older than src/: building it first (npm run build)\n');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { cwd: ROOT, stdio: 'inherit' });
}
