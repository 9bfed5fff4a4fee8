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
  const stamp = join(root, 'dist', 'index.js');
  if (!existsSync(stamp) || !existsSync(join(root, 'dist', 'cli.js'))) return true;
  const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.build.json')).mtimeMs, statSync(join(root, 'tsconfig.json')).mtimeMs);
  return sources > statSync(stamp).mtimeMs;
}

export default function setup(): void {
  if (!buildIsStale()) return;
  process.stderr.write('dist/ is older than src/: building it first (npm run build)\n');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}
