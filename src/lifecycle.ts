// Ordered, idempotent shutdown: closers run in the reverse order they were added, each failure logged, none skipped.
import type { Logger } from './logger.js';

export type Closer = () => void | Promise<void>;

export class Lifecycle {
  readonly #closers: { name: string; close: Closer }[] = [];
  readonly #logger: Logger;
  #closed: Promise<void> | null = null;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Registers a closer; the last one added runs first. */
  add(name: string, close: Closer): void {
    this.#closers.push({ name, close });
  }

  get closing(): boolean {
    return this.#closed !== null;
  }

  /** Runs every closer once; later calls return the same promise. Never rejects. */
  close(): Promise<void> {
    this.#closed ??= this.#run();
    return this.#closed;
  }

  async #run(): Promise<void> {
    for (const { name, close } of this.#closers.slice().reverse()) {
      try {
        await close();
      } catch (err) {
        this.#logger.error({ err, step: name }, 'shutdown step failed');
      }
    }
  }
}
