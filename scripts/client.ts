// Example client: prints every message the relay delivers and sends each line typed on stdin.
// Usage: npm run client -- ws://localhost:8443/   (add --binary to send lines as binary frames)
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const url = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'ws://localhost:8443/';
const binary = process.argv.includes('--binary');
const ws = new WebSocket(url);

ws.on('open', () => {
  console.error(`connected to ${url}; type a line to send it`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => ws.send(binary ? Buffer.from(line) : line));
  lines.on('close', () => ws.close(1000, 'stdin closed'));
});
ws.on('message', (data: Buffer, isBinary: boolean) => {
  console.log(isBinary ? `[binary ${data.length} B] ${data.toString('hex')}` : data.toString('utf8'));
});
ws.on('close', (code, reason) => {
  console.error(`closed: ${code} ${reason.toString()}`);
  process.exit(0);
});
ws.on('error', (err) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
