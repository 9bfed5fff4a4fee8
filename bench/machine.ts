// What the results were measured on, recorded with every run.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism, release, totalmem } from 'node:os';
import { run } from './exec.js';
import { ROOT_DIR } from './paths.js';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryMiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly gitCommit: string;
  readonly gitDirty: boolean;
  /** mtime of dist/cli.js: the relay measured is the last build, which may predate the commit */
  readonly relayBuiltAt: string | null;
  readonly pinning: string;
}

export async function describeMachine(pinning: string): Promise<Machine> {
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch {
    // not Linux: leave it unknown
  }
  const commit = await run('git', ['rev-parse', 'HEAD'], { cwd: ROOT_DIR });
  const status = await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT_DIR });
  return {
    cpuModel,
    cores: availableParallelism(),
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    kernel: release(),
    node: process.version,
    gitCommit: commit.code === 0 ? commit.stdout.trim() : 'unknown',
    gitDirty: status.code === 0 && status.stdout.trim() !== '',
    relayBuiltAt: builtAt(path.join(ROOT_DIR, 'dist', 'cli.js')),
    pinning,
  };
}

function builtAt(file: string): string | null {
  try {
    return statSync(file).mtime.toISOString();
  } catch {
    return null;
  }
}
