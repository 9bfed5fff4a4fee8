// Opens COUNT WebSocket connections to 127.0.0.1:PORT (64 handshakes at a time) and holds them: `stall` reads
// nothing after the handshake, `read` reads and discards everything. Prints "ready N" once all are open, and
// "closed N" (how many the server closed) when stdin closes, then exits.
// Usage: node holders.mjs PORT COUNT [stall|read]
import { connect } from 'node:net';
import process from 'node:process';

const [port, count] = process.argv.slice(2, 4).map(Number);
const reading = process.argv[4] === 'read';
let closed = 0;
const request =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
const sockets = [];
function open() {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('data', (chunk) => {
      if (!chunk.toString('latin1').startsWith('HTTP/1.1 101')) return reject(new Error('refused'));
      if (reading) socket.on('data', () => {});
      else socket.pause();
      socket.once('close', () => closed++);
      socket.on('error', () => {});
      sockets.push(socket);
      resolve();
    });
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
process.stdout.write(`ready ${sockets.length}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(`closed ${closed}\n`, () => process.exit(0));
});
