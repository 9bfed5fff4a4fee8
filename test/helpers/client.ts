// A test WebSocket client (the ws package) with an awaitable inbox and close event.
import WebSocket, { type ClientOptions } from 'ws';
import { within } from './wait.js';

export interface Received {
  readonly data: Buffer;
  readonly isBinary: boolean;
  readonly text: string;
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

export class TestClient {
  readonly ws: WebSocket;
  readonly inbox: Received[] = [];
  readonly closed: Promise<Closed>;
  #waiters: (() => void)[] = [];

  constructor(url: string, options?: ClientOptions & { protocols?: string | string[] }) {
    this.ws = new WebSocket(url, options?.protocols, options);
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.inbox.push({ data, isBinary, text: isBinary ? '' : data.toString('utf8') });
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
    this.ws.on('error', () => {
      // surfaced through `opened` rejecting or `closed`
    });
  }

  /** Resolves when the handshake completes; rejects with the HTTP status when the server refuses it. */
  opened(ms = 5000): Promise<this> {
    return within(
      new Promise<this>((resolve, reject) => {
        if (this.ws.readyState === WebSocket.OPEN) return resolve(this);
        this.ws.once('open', () => resolve(this));
        this.ws.once('unexpected-response', (_req, res) => reject(new HandshakeRefused(res.statusCode ?? 0, res.headers)));
        this.ws.once('error', reject);
      }),
      ms,
      'the WebSocket handshake',
    );
  }

  send(data: string | Buffer | Uint8Array, binary?: boolean): void {
    this.ws.send(data, binary === undefined ? {} : { binary });
  }

  /** Waits until the inbox holds at least `count` messages and returns them all. */
  async received(count: number, ms = 5000): Promise<Received[]> {
    await within(
      (async () => {
        while (this.inbox.length < count) {
          if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed with ${this.inbox.length}/${count} messages`);
          await new Promise<void>((wake) => this.#waiters.push(wake));
        }
      })(),
      ms,
      `${count} messages (have ${this.inbox.length})`,
    );
    return this.inbox;
  }

  close(code?: number, reason?: string): Promise<Closed> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    return within(this.closed, 5000, 'the close handshake');
  }

  terminate(): Promise<Closed> {
    this.ws.terminate();
    return within(this.closed, 5000, 'the socket to close');
  }
}

export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`handshake refused with HTTP ${status}`);
  }
}

/** Opens `count` clients to `url` and waits until all are connected. */
export async function connectMany(url: string, count: number, options?: ClientOptions): Promise<TestClient[]> {
  const clients = Array.from({ length: count }, () => new TestClient(url, options));
  await Promise.all(clients.map((c) => c.opened(10_000)));
  return clients;
}
