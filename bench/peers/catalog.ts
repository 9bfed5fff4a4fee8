// Every peer the bench knows, by the name --peers uses.
import { gorilla } from './gorilla.js';
import { uwsRaw, uwsRawTls, wsPeer } from './node-peers.js';
import { relayCluster } from './relay-cluster.js';
import { relay, relayTls, relayW1, relayW1Baseline, relayW2, relayW2Baseline, relayW4 } from './relay.js';
import type { Peer } from './types.js';

export const PEERS: readonly Peer[] = [relay, uwsRaw, wsPeer, gorilla, relayCluster, relayTls, uwsRawTls, relayW1, relayW2, relayW4, relayW1Baseline, relayW2Baseline];

/** What runs when neither --peers nor the scenario names its peers: the single-process comparison. */
export const DEFAULT_PEERS: readonly string[] = ['relay', 'uws-raw', 'ws', 'gorilla'];

/**
 * --quick also checks the cluster harness (cross-instance delivery exactly once, in order); it is
 * skipped with a note where redis-server is missing, like any unavailable peer.
 */
export const QUICK_PEERS: readonly string[] = [...DEFAULT_PEERS, 'relay-cluster'];

/** Peer names for one scenario: --peers when given, else the scenario's own, else the defaults. */
export function peerNamesFor(scenario: { readonly peers?: readonly string[] }, explicit: string | undefined, quick: boolean): string[] {
  if (explicit !== undefined) return selectPeers(explicit).map((p) => p.name);
  return [...(scenario.peers ?? (quick ? QUICK_PEERS : DEFAULT_PEERS))];
}

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
