// Every peer the bench knows, by the name --peers uses.
import { gorilla } from './gorilla.js';
import { uwsRaw, wsPeer } from './node-peers.js';
import { relay } from './relay.js';
import type { Peer } from './types.js';

export const PEERS: readonly Peer[] = [relay, uwsRaw, wsPeer, gorilla];

/** Resolves a comma list of peer names; throws on an unknown one. */
export function selectPeers(spec: string): Peer[] {
  return spec
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .map((name) => {
      const peer = PEERS.find((p) => p.name === name);
      if (!peer) throw new Error(`unknown peer "${name}" (known: ${PEERS.map((p) => p.name).join(', ')})`);
      return peer;
    });
}
