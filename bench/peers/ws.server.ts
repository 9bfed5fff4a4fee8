// The usual Node choice: the same fan-out relay on the `ws` package, looping over every client.
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 });

server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    for (const client of server.clients) client.send(data, { binary: isBinary });
  });
});

server.on('listening', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('ws: expected a TCP address');
  console.log(JSON.stringify({ msg: 'peer listening', ws_port: address.port, node_version: process.version }));
});

process.once('SIGTERM', () => {
  server.close();
  process.exit(0);
});
