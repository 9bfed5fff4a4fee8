// Watches the directories of the certificate and key files (inotify through fs.watch): a file rewritten in place, a
// file renamed over, and Kubernetes' atomic swap of the `..data` symlink all show up as events in the directory.
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';

/** What a check found: nothing new, a usable new pair (applied by the callback), or a pair not (yet) usable. */
export type CheckOutcome = 'unchanged' | 'applied' | 'not_ready';

export interface FileWatcherOptions {
  readonly logger: Logger;
  /** Looks at the files and applies them when they changed and are usable. Must not throw. */
  readonly check: () => CheckOutcome;
  /** Called when the files stayed unusable through every retry; the caller reports the failure. */
  readonly giveUp: () => void;
  /** Quiet time after the last event before checking (ms). */
  readonly debounceMs?: number;
  /** Checks of a changed but unusable pair before giving up (a writer still writing, the other file not yet swapped). */
  readonly retries?: number;
}

/** Debounced watcher of the directories holding `files`. `close()` is idempotent. */
export class FileWatcher {
  readonly #opts: Required<FileWatcherOptions>;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;
  #attempts = 0;

  constructor(opts: FileWatcherOptions) {
    this.#opts = { debounceMs: 250, retries: 20, ...opts };
  }

  /** Watches the directories of `files` (replacing what was watched before); an empty list stops watching. */
  watch(files: readonly string[]): void {
    this.close();
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.#schedule());
        watcher.on('error', (err) => this.#opts.logger.warn({ err, dir }, 'certificate directory watch failed'));
        this.#watchers.push(watcher);
      } catch (err) {
        this.#opts.logger.warn({ err, dir }, 'cannot watch the certificate directory; reload with SIGHUP instead');
      }
    }
  }

  close(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#attempts = 0;
  }

  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#attempts = 0;
    this.#timer = setTimeout(() => this.#run(), this.#opts.debounceMs);
    this.#timer.unref();
  }

  #run(): void {
    this.#timer = null;
    const outcome = this.#opts.check();
    if (outcome !== 'not_ready') {
      this.#attempts = 0;
      return;
    }
    if (++this.#attempts > this.#opts.retries) {
      this.#attempts = 0;
      this.#opts.giveUp();
      return;
    }
    this.#timer = setTimeout(() => this.#run(), this.#opts.debounceMs);
    this.#timer.unref();
  }
}
