// Admission across threads: per-IP counts, the upgrade rate and credentials are per process, so the admission runs
// once, on the main thread. A worker thread's hub gets an AdmissionProxy, which asks the main thread's AdmissionHost
// for each verdict (one round trip per upgrade, never per message) and reports its sockets' opens and closes.
import type { MessagePort } from 'node:worker_threads';
import type { Admission, AdmissionVerdict, EndSocket, SocketRef, UpgradeInfo } from '../contracts.js';
import type { PluginCloseReason } from '../relay/protocol.js';

/** Messages between the two sides; `id` names an admitted upgrade for the life of its socket. */
export type AdmissionMessage =
  | { readonly type: 'admit'; readonly id: number; readonly info: UpgradeInfo }
  /** verdict null: the admission threw (the hub answers 500). */
  | { readonly type: 'verdict'; readonly id: number; readonly verdict: AdmissionVerdict<null> | null }
  | { readonly type: 'opened'; readonly id: number }
  | { readonly type: 'closed'; readonly id: number }
  | { readonly type: 'end'; readonly id: number; readonly reason: PluginCloseReason };

/** A worker thread's admission: every verdict comes from the main thread. Its per-socket state is the upgrade's id. */
export class AdmissionProxy implements Admission<number> {
  readonly #port: MessagePort;
  readonly #pending = new Map<number, { resolve(verdict: AdmissionVerdict<number>): void; reject(err: Error): void }>();
  readonly #sockets = new Map<number, SocketRef>();
  #end: EndSocket | null = null;
  #next = 0;

  constructor(port: MessagePort) {
    this.#port = port;
    port.on('message', (m: AdmissionMessage) => {
      if (m.type === 'verdict') {
        const pending = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.verdict === null) pending?.reject(new Error('the admission failed on the main thread'));
        else pending?.resolve(m.verdict.ok ? { ...m.verdict, state: m.id } : m.verdict);
      } else if (m.type === 'end') {
        const socket = this.#sockets.get(m.id);
        if (socket !== undefined) this.#end?.(socket, m.reason);
      }
    });
    port.unref();
  }

  attach(end: EndSocket): void {
    this.#end = end;
  }

  admit(info: UpgradeInfo): Promise<AdmissionVerdict<number>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#post({ type: 'admit', id, info });
    });
  }

  opened(id: number, socket: SocketRef): void {
    this.#sockets.set(id, socket);
    this.#post({ type: 'opened', id });
  }

  closed(id: number): void {
    this.#sockets.delete(id);
    this.#post({ type: 'closed', id });
  }

  #post(m: AdmissionMessage): void {
    this.#port.postMessage(m);
  }
}

/** A worker thread's socket as the main thread's admission knows it. */
interface RemoteSocket {
  readonly port: MessagePort;
  readonly id: number;
}

/**
 * The main thread's side: runs the real admission for the workers' upgrades and routes the admission's own closes
 * (token expiry) to the thread that holds the socket. `local` is what the main thread's own hub uses.
 */
export class AdmissionHost {
  readonly #admission: Admission;
  readonly #remote = new WeakSet<object>();
  #localEnd: EndSocket | null = null;

  constructor(admission: Admission) {
    this.#admission = admission;
    admission.attach?.((socket, reason) => {
      if (this.#remote.has(socket)) {
        const remote = socket as unknown as RemoteSocket;
        remote.port.postMessage({ type: 'end', id: remote.id, reason } satisfies AdmissionMessage);
      } else {
        this.#localEnd?.(socket, reason);
      }
    });
  }

  /** The admission for the main thread's hub. */
  get local(): Admission {
    const admission = this.#admission;
    return {
      attach: (end) => {
        this.#localEnd = end;
      },
      admit: (info) => admission.admit(info),
      opened: (state, socket) => admission.opened?.(state, socket),
      closed: (state) => admission.closed?.(state),
    };
  }

  /** Serves one worker thread's proxy on `port`. */
  serve(port: MessagePort): void {
    const states = new Map<number, unknown>();
    const admission = this.#admission;
    const reply = (id: number, verdict: AdmissionVerdict | null): void => {
      if (verdict?.ok === true) states.set(id, verdict.state);
      const wire: AdmissionVerdict<null> | null = verdict?.ok === true ? { ok: true, ip: verdict.ip, protocol: verdict.protocol, state: null } : verdict;
      port.postMessage({ type: 'verdict', id, verdict: wire } satisfies AdmissionMessage);
    };
    port.on('message', (m: AdmissionMessage) => {
      switch (m.type) {
        case 'admit': {
          let verdict: AdmissionVerdict | Promise<AdmissionVerdict> | null;
          try {
            verdict = admission.admit(m.info);
          } catch {
            verdict = null;
          }
          if (verdict instanceof Promise) {
            verdict.then(
              (v) => reply(m.id, v),
              () => reply(m.id, null),
            );
          } else reply(m.id, verdict);
          return;
        }
        case 'opened': {
          const ref: RemoteSocket = { port, id: m.id };
          this.#remote.add(ref);
          if (states.has(m.id)) admission.opened?.(states.get(m.id), ref as unknown as SocketRef);
          return;
        }
        case 'closed': {
          if (states.has(m.id)) admission.closed?.(states.get(m.id));
          states.delete(m.id);
          return;
        }
        default:
      }
    });
    port.unref();
  }
}
