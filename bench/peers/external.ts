// --url: measure a server someone else started. Only client-side numbers are available (no PID).
import type { Peer, PeerInstance } from './types.js';

export function externalPeer(url: string): Peer {
  return {
    name: 'url',
    description: `already running server at ${url}`,
    // rooms scenarios need the server's rooms on; a server without them shows the leaks as malformed deliveries
    rooms: true,
    unavailable: () => Promise.resolve(/^wss?:\/\/(127\.0\.0\.1|localhost):\d+/.test(url) ? null : 'only ws:// and wss:// URLs on 127.0.0.1 are measured'),
    start: (): Promise<PeerInstance> => Promise.resolve({ urls: [url], pids: [], close: () => Promise.resolve() }),
  };
}
