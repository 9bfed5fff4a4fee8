// A small node:http server for operators: Prometheus exposition, liveness and readiness.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListenError } from '../errors.js';
import type { Exposition } from './threads.js';

/** Named readiness conditions; /readyz is 200 only while every one holds. */
export class Readiness {
  readonly #blockers = new Map<string, string>();

  /** Marks `name` not ready, with a short why that /readyz prints. */
  block(name: string, why: string): void {
    this.#blockers.set(name, why);
  }

  unblock(name: string): void {
    this.#blockers.delete(name);
  }

  get ready(): boolean {
    return this.#blockers.size === 0;
  }

  describe(): string {
    return Array.from(this.#blockers, ([name, why]) => `${name}: ${why}`).join('\n');
  }
}

export interface MetricsServerOptions {
  /** A registry, or the threads' registries summed. */
  readonly registry: Exposition;
  readonly readiness: Readiness;
  readonly path: string;
  /** When set, `POST /-/reload` runs it: 200 with what was applied, 400 with the problems of a refused reload. */
  readonly reload?: () => ReloadAnswer | Promise<ReloadAnswer>;
}

/** What a reload answers: applied, or refused with its problems. */
interface ReloadAnswer {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly applied: readonly string[];
  readonly restartOnly: readonly string[];
}

/** The Prometheus convention for an HTTP-triggered reload. */
export const RELOAD_PATH = '/-/reload';

/** Serves `path` (metrics), /healthz and /readyz. `listen` resolves with the bound port; `close` is idempotent. */
export class MetricsServer {
  readonly #server: Server;
  #closed: Promise<void> | null = null;

  constructor(opts: MetricsServerOptions) {
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === RELOAD_PATH && opts.reload !== undefined) {
        if (req.method !== 'POST') {
          res.writeHead(405, { allow: 'POST' }).end();
          return;
        }
        const answer = (result: ReloadAnswer): void => {
          const body = result.ok
            ? `reloaded\napplied: ${result.applied.join(', ') || '(nothing changed)'}\n` +
              (result.restartOnly.length > 0 ? `needs a restart (not applied): ${result.restartOnly.join(', ')}\n` : '')
            : `reload refused; the running configuration stays in force\n${result.problems.join('\n')}\n`;
          res.writeHead(result.ok ? 200 : 400, { 'content-type': 'text/plain' }).end(body);
        };
        Promise.resolve()
          .then(() => opts.reload!())
          .then(answer, (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`reload failed: ${String(err)}\n`));
      } else if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === opts.path) {
        opts.registry.metrics().then(
          (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
          (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ready = opts.readiness.ready;
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : `not ready\n${opts.readiness.describe()}\n`);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
  }

  /** @throws ListenError when host:port cannot be bound */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new ListenError(`metrics: cannot listen on ${host}:${port} (${err.code ?? err.message})`, { cause: err }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host, port, exclusive: true }, () => {
        this.#server.off('error', onError);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    this.#closed ??= new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }
}
