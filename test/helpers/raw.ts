// Raw TCP access to the relay for tests that must misbehave: hand-written handshakes, crafted or broken frames.
import { connect, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import { frameHeads, pongFor } from './frame-heads.mjs';
import { within } from './wait.js';

/** A valid Sec-WebSocket-Key (RFC 6455's example). */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A TCP connection that records everything it receives; destroyed when the test finishes. */
export class RawSocket {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  /** Resolves when the server (or we) closed the connection. */
  readonly closed: Promise<void>;
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.#wake();
    });
    socket.on('error', () => {
      // a reset from the server shows as `closed`
    });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.#wake();
      resolve();
    }));
    onTestFinished(() => {
      socket.destroy();
    });
  }

  /** Connects to 127.0.0.1:port. */
  static async open(port: number, ms = 5000): Promise<RawSocket> {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await within(new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }), ms, 'a TCP connection');
    return new RawSocket(socket);
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readyState === 'closed';
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `check(received)` is true; fails if the connection closes first (unless `orClose`). */
  async until(check: (received: Buffer) => boolean, ms: number, what: string): Promise<void> {
    await within((async () => {
      while (!check(this.received)) {
        if (this.isClosed) throw new Error(`connection closed while waiting for ${what}; got ${JSON.stringify(this.received.toString('latin1').slice(0, 200))}`);
        await new Promise<void>((wake) => this.#waiters.push(wake));
      }
    })(), ms, what);
  }

  /** Sends an upgrade request and waits for the response head. */
  async handshake(request: string = upgradeRequest(), ms = 5000): Promise<HttpHead> {
    this.write(request);
    await this.until((b) => b.includes('\r\n\r\n'), ms, 'the handshake response');
    return this.head();
  }

  /** The HTTP response head received so far. */
  head(): HttpHead {
    const end = this.received.indexOf('\r\n\r\n');
    const [statusLine = '', ...lines] = this.received.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status: Number(statusLine.split(' ')[1]), headers, bodyOffset: end + 4 };
  }

  /** Frames received after the response head. */
  frames(): Frame[] {
    return parseFrames(this.received.subarray(this.head().bodyOffset));
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

export interface HttpHead {
  readonly status: number;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly bodyOffset: number;
}

/** An HTTP/1.1 upgrade request; `headers` replace the defaults by name, a null value drops the header. */
export function upgradeRequest(headers: Record<string, string | null> = {}, path = '/'): string {
  const all: Record<string, string | null> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': SAMPLE_KEY,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = Object.entries(all).filter((e): e is [string, string] => e[1] !== null).map(([k, v]) => `${k}: ${v}\r\n`);
  return `GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`;
}

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer | string;
  readonly fin?: boolean;
  /** RSV1..3 as a 3-bit number (4 = RSV1). */
  readonly rsv?: number;
  /** Clients must mask; false sends the payload in clear with the mask bit off. */
  readonly mask?: boolean;
  readonly maskKey?: Buffer;
}

/** Encodes one WebSocket frame as a client would (masked unless told otherwise). */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask ?? true;
  const len = payload.length;
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const maskBit = mask ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 255);
  else head.push(maskBit | 127, 0, 0, 0, 0, (len >>> 24) & 255, (len >> 16) & 255, (len >> 8) & 255, len & 255);
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = spec.maskKey ?? Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = (payload[i] ?? 0) ^ (key[i % 4] ?? 0);
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A close frame's payload: 2-byte code, then the reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

export interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
  /** For close frames with a payload: the status code. */
  readonly closeCode?: number;
}

/** Decodes unmasked server frames; a trailing partial frame is ignored. */
export function parseFrames(data: Buffer): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  while (at + 2 <= data.length) {
    const opcode = (data[at] ?? 0) & 0x0f;
    let len = (data[at + 1] ?? 0) & 0x7f;
    let start = at + 2;
    if (len === 126) {
      len = data.readUInt16BE(at + 2);
      start += 2;
    } else if (len === 127) {
      len = Number(data.readBigUInt64BE(at + 2));
      start += 8;
    }
    if (start + len > data.length) break;
    const payload = data.subarray(start, start + len);
    frames.push(opcode === Opcode.close && len >= 2 ? { opcode, payload, closeCode: payload.readUInt16BE(0) } : { opcode, payload });
    at = start + len;
  }
  return frames;
}

/**
 * A bare upgraded TCP socket that reads nothing on its own (unlike RawSocket): for clients that stop reading.
 * Resolves once the 101 response head has been read.
 */
export async function rawUpgrade(port: number, path = '/'): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  onTestFinished(() => {
    socket.destroy();
  });
  await within(
    new Promise<void>((resolve, reject) => {
      let head = '';
      const onData = (chunk: Buffer): void => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        if (head.startsWith('HTTP/1.1 101')) resolve();
        else reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.write(upgradeRequest({}, path));
    }),
    5000,
    'a raw WebSocket upgrade',
  );
  // From here a reset is how a server drops a client (tests look at 'close'), not an error that should crash the run.
  socket.on('error', () => {});
  return socket;
}

/** Resolves when the server has closed `socket` (FIN or reset); reads and discards what is left. */
export function socketClosed(socket: Socket, ms = 10_000): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.once('close', () => resolve());
      socket.resume();
    }),
    ms,
    'the server to close the raw socket',
  );
}

/**
 * Reads everything `socket` receives as fast as it can, reporting the byte count of each chunk, and answers every
 * ping as an RFC 6455 client does (the relay takes a client that leaves pings unanswered for one that stopped
 * reading). Only frame heads are parsed; payloads are skipped.
 */
export function readAnsweringPings(socket: Socket, onBytes: (bytes: number) => void): void {
  const read = frameHeads({ onPing: (payload) => socket.write(pongFor(payload)) });
  socket.on('data', (chunk: Buffer) => {
    onBytes(chunk.length);
    read(chunk);
  });
  socket.resume();
}
