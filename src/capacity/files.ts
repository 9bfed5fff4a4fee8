// The process's file-descriptor table: its size (RLIMIT_NOFILE), how full it is, and probes that tell whether
// the next accept() would fail with EMFILE. Node has no getrlimit(); Linux exposes the limit in /proc/self/limits.
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';

/** The file operations the probes use; injectable for tests. */
export interface FileOps {
  readonly read: (path: string) => string;
  readonly list: (path: string) => string[];
  readonly open: () => number;
  readonly close: (fd: number) => void;
}

const PROBE_PATH = '/dev/null';

export const nodeFileOps: FileOps = {
  read: (path) => readFileSync(path, 'latin1'),
  list: (path) => readdirSync(path),
  open: () => openSync(PROBE_PATH, 'r'),
  close: (fd) => closeSync(fd),
};

/**
 * The soft open-file limit from a /proc/<pid>/limits text ("Max open files  400  400  files").
 * @returns null when the line is missing or the limit is "unlimited"
 */
export function parseOpenFileLimit(limitsText: string): number | null {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  if (match === null || match[1] === 'unlimited') return null;
  return Number(match[1]);
}

/** True for the errors open()/accept() give when the descriptor table (process or system) is full. */
export function isTableFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * Probes of the descriptor table. None of them is on a per-message or per-upgrade path: `full()` runs on a timer
 * (about a microsecond: one open and one close), `freeAtLeast()` only while the listener is paused.
 */
export class FileTable {
  readonly #ops: FileOps;

  constructor(ops: FileOps = nodeFileOps) {
    this.#ops = ops;
  }

  /** RLIMIT_NOFILE (soft); null where /proc/self/limits does not exist (macOS, Windows) or it is unlimited. */
  limit(): number | null {
    try {
      return parseOpenFileLimit(this.#ops.read('/proc/self/limits'));
    } catch {
      return null;
    }
  }

  /** Descriptors open now (/proc/self/fd on Linux, /dev/fd on macOS); null when neither can be listed. */
  used(): number | null {
    for (const dir of ['/proc/self/fd', '/dev/fd']) {
      try {
        // The listing itself holds one descriptor while it runs.
        return Math.max(0, this.#ops.list(dir).length - 1);
      } catch {
        // try the next one
      }
    }
    return null;
  }

  /** True when no descriptor can be opened: an accept() now fails with EMFILE. @throws what open() throws otherwise */
  full(): boolean {
    return !this.freeAtLeast(1);
  }

  /** True when at least `n` descriptors can be opened right now (each is closed again before this returns). */
  freeAtLeast(n: number): boolean {
    const opened: number[] = [];
    try {
      while (opened.length < n) opened.push(this.#ops.open());
      return true;
    } catch (err) {
      if (isTableFull(err)) return false;
      throw err;
    } finally {
      for (const fd of opened) this.#ops.close(fd);
    }
  }

  /**
   * Opens up to `n` spare descriptors and returns them: a ballast the relay holds while it accepts connections
   * and gives back when the table fills, so the metrics server, Redis and the logger still find descriptors.
   */
  reserve(n: number): number[] {
    const held: number[] = [];
    try {
      while (held.length < n) held.push(this.#ops.open());
    } catch (err) {
      if (!isTableFull(err)) {
        this.release(held);
        throw err;
      }
    }
    return held;
  }

  /** Closes descriptors `reserve` returned. */
  release(fds: number[]): void {
    for (const fd of fds.splice(0)) this.#ops.close(fd);
  }
}
