// Opens COUNT WebSocket connections to 127.0.0.1:PORT (64 handshakes at a time) and holds them: `stall` reads
// nothing after the handshake, `read` reads everything and answers pings as any client does. Prints "ready N" once
// all are open. When stdin closes, every connection reads again (answering pings) until all are closed, nothing has
// arrived for a second, or FINAL_READ_MS passed (0, the default: no final read), and one JSON line says what they
// saw: how many the server had closed with a close frame (by code), without one, or not at all; then it exits.
// Usage: node holders.mjs PORT COUNT [stall|read] [FINAL_READ_MS] [PATH]   (PATH: the request path, / by default)
import { Buffer } from 'node:buffer';
import { connect } from 'node:net';
import process from 'node:process';
import { setTimeout } from 'node:timers';
// The frame reader the tests' clients use.
import { frameHeads, pongFor } from '../../test/helpers/frame-heads.mjs';

const [port, count] = process.argv.slice(2, 4).map(Number);
const reading = process.argv[4] === 'read';
const finalReadMs = Number(process.argv[5] ?? 0);
const path = process.argv[6] ?? '/';
const request =
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
const IDLE_MS = 1000;
let lastDataAt = 0;

/** One connection: its frame heads parsed (payloads skipped), pings answered, the close frame's code kept. */
class Held {
  /** Close code from the server's close frame (1005 for one without a code); null while none arrived. */
  closeCode = null;
  closed = false;
  /** The connection ended with a reset (ECONNRESET) rather than a FIN. */
  reset = false;
  /** Bytes read after the handshake. */
  bytes = 0;
  #read;

  constructor(socket) {
    this.socket = socket;
    this.#read = frameHeads({ onPing: (payload) => socket.write(pongFor(payload)), onClose: (code) => (this.closeCode = code) });
    socket.once('close', () => (this.closed = true));
    socket.on('error', (err) => {
      if (err.code === 'ECONNRESET') this.reset = true;
    });
  }

  /** Starts reading (again), parsing what arrives. */
  read(rest) {
    if (rest !== undefined && rest.length > 0) this.#received(rest);
    this.socket.on('data', (chunk) => this.#received(chunk));
    this.socket.resume();
  }

  #received(chunk) {
    lastDataAt = Date.now();
    this.bytes += chunk.length;
    this.#read(chunk);
  }
}

const held = [];
function open() {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', reject);
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      if (!head.toString('latin1', 0, 12).startsWith('HTTP/1.1 101')) return reject(new Error('refused'));
      const h = new Held(socket);
      held.push(h);
      if (reading) h.read(head.subarray(end + 4));
      else {
        socket.pause();
        h.rest = head.subarray(end + 4);
      }
      resolve();
    };
    socket.on('data', onData);
    socket.write(request);
  });
}
let opened = 0;
async function worker() {
  while (opened < count) {
    opened++;
    await open();
  }
}
await Promise.all(Array.from({ length: 64 }, worker));
process.stdout.write(`ready ${held.length}\n`);

process.stdin.resume();
process.stdin.on('end', async () => {
  // Whatever the server closed while nobody read shows now: its data, then a close frame or not, then EOF.
  if (!reading && finalReadMs > 0) for (const h of held) h.read(h.rest);
  const deadline = Date.now() + finalReadMs;
  lastDataAt = Date.now();
  while (Date.now() < deadline && Date.now() - lastDataAt < IDLE_MS && held.some((h) => !h.closed)) await new Promise((r) => setTimeout(r, 50));
  const codes = {};
  for (const h of held) if (h.closed && h.closeCode !== null) codes[h.closeCode] = (codes[h.closeCode] ?? 0) + 1;
  const summary = {
    opened: held.length,
    close_frames: codes,
    closed_without_frame: held.filter((h) => h.closed && h.closeCode === null).length,
    reset: held.filter((h) => h.reset).length,
    mib_read: Math.round(held.reduce((n, h) => n + h.bytes, 0) / 1048576),
    still_open: held.filter((h) => !h.closed).length,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(0));
});
