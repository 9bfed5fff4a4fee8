// What the bench needs from a server under test. A peer may be several processes (a cluster) with
// subscribers spread over several URLs; the load generator assigns connections round-robin.

export interface PeerInstance {
  /**
   * ws:// URLs on loopback; the load generator's connections take them in turn (within each of its
   * threads, so publishers 0, 1, … alternate too)
   */
  readonly urls: readonly string[];
  /** processes whose CPU and RSS count as the server's; empty when measuring an external server */
  readonly pids: readonly number[];
  /** what the server ran on, from its listening line, e.g. "node v24.22.3, uWS 20.57.0"; absent when it does not say */
  readonly runtime?: string;
  /** stops every process; safe to call more than once */
  close(): Promise<void>;
  /**
   * Messages the server itself counts as lost, read after traffic and before close: a cluster's
   * relay_backplane_dropped_total summed over its instances. Absent for a single process.
   */
  backplaneDropped?(): Promise<number>;
}

export interface StartOptions {
  /** `taskset -c` list for the server processes, or null to leave them unpinned */
  readonly cpus: string | null;
  /** Node servers write a V8 CPU profile here on exit (`node --cpu-prof`); others ignore it */
  readonly profileDir: string | null;
  /** the request path is the topic (a rooms scenario); only peers with `rooms: true` are started with it */
  readonly rooms: boolean;
  /** how relay processes start beyond their defaults (--relay-node-flags, --relay-env); other peers ignore it */
  readonly relay?: RelayVariant;
}

/** Node flags and environment added to every relay process, to measure V8 and allocator settings. */
export interface RelayVariant {
  readonly nodeFlags: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export interface Peer {
  readonly name: string;
  readonly description: string;
  /** can run rooms scenarios (the request path as the topic); absent: one topic for everyone */
  readonly rooms?: boolean;
  /** null when the peer can run here, otherwise why not (it is then skipped with this note) */
  unavailable(): Promise<string | null>;
  /** starts a fresh instance and resolves once it listens */
  start(options: StartOptions): Promise<PeerInstance>;
}
