// A bare TCP client that performs the WebSocket handshake by hand, for clients that misbehave on purpose.
import { connect, type Socket } from 'node:net';
import { within } from './wait.js';

/** Opens a TCP connection to `port`, sends an upgrade request for `path` and resolves once the 101 response is read. */
export async function rawUpgrade(port: number, path = '/'): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
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
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    }),
    5000,
    'a raw WebSocket upgrade',
  );
  return socket;
}

/** Resolves when the server has closed `socket` (FIN or reset). */
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
