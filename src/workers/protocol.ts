// What the main thread and a worker thread say to each other over the worker's parentPort (control only: client
// messages travel on the mesh's links, admission on its own port).
import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import type { StagedCertificate } from '../relay/tls.js';
import type { LinkEnd } from './carrier.js';

/** The CLI's fault-injection switch for tests: the last worker thread fails this many ms after it listens. */
export const FAULT_ENV = 'WEBSOCKET_RELAY_FAIL_WORKER_MS';

/** What a worker thread starts with (workerData). */
export interface ThreadData {
  /** 1..threads-1; the main thread is 0. */
  readonly index: number;
  readonly threads: number;
  readonly config: Config;
  /** The main thread's log level (its logger may have been made with another than log.level). */
  readonly logLevel: string;
  /** The uWS build the main thread loaded (its version), so every thread runs the same one. */
  readonly uws: string;
  /** The capacity gate's shared state. */
  readonly gate: SharedArrayBuffer;
  readonly senders: readonly LinkEnd[];
  /** senders[i] goes to thread peers[i]. */
  readonly peers: readonly number[];
  readonly receivers: readonly LinkEnd[];
  /** The topic table (interest.ts). */
  readonly interest: SharedArrayBuffer;
  /** To the main thread's admission; null when the config has none. */
  readonly admission: MessagePort | null;
  /** Where the main thread listens: the worker listens on the same address and port (SO_REUSEPORT). */
  readonly host: string;
  readonly port: number;
  /** relay.max_total_backpressure_bytes when configured as 0, as the main thread derived it (bytes). */
  readonly defaultBudget: number;
  /** What each of this thread's links may hold (bytes; mesh.ts linkBound). */
  readonly linkBytes: number;
  /** Fault injection for tests: the thread throws an uncaught error this long after it listens (ms); null: never. */
  readonly failAfterMs: number | null;
  /** One Int32: each worker adds 1 once it has applied a reload or a certificate, and notifies. */
  readonly applied: SharedArrayBuffer;
}

export type ToWorker =
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'reload'; readonly config: Config }
  | { readonly type: 'certificate'; readonly staged: StagedCertificate }
  /** An admission a reload turned on: this thread's end of its channel. */
  | { readonly type: 'admission'; readonly port: MessagePort }
  | { readonly type: 'pause' }
  | { readonly type: 'resume'; readonly id: number }
  | { readonly type: 'drain'; readonly id: number; readonly spreadMs: number }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'listening' }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'metrics'; readonly id: number; readonly json: unknown }
  /** The thread's counts as it ends. */
  | { readonly type: 'final'; readonly json: unknown }
  | { readonly type: 'resumed'; readonly id: number; readonly ok: boolean }
  | { readonly type: 'drained'; readonly id: number }
  | { readonly type: 'fatal'; readonly message: string; readonly stack: string };
