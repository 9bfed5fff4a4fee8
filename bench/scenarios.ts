// Bench scenarios as data: the full grid, the default suite drawn from it, the cluster scenarios, and
// the quick harness check.

/** `fixed`: open loop at a set rate, latency from the intended send time. `max`: closed loop, bounded in flight. */
export type Mode = 'fixed' | 'max';

export interface Scenario {
  readonly name: string;
  /** connections; the first `publishers` of them also publish, and every one receives every message */
  readonly subscribers: number;
  readonly publishers: number;
  readonly payloadBytes: number;
  readonly mode: Mode;
  /** text frames (hex header) instead of binary, to check that text stays text */
  readonly text: boolean;
  /** fixed mode: messages per second over all publishers */
  readonly rateMsgsPerS: number;
  /**
   * max mode: messages not yet delivered to every subscriber, over all publishers. Each publisher
   * sends its share as two bursts of half, refilling a burst once all of it has been delivered.
   */
  readonly inflight: number;
  /** seconds of traffic before measuring starts (JIT, TCP windows) */
  readonly warmupS: number;
  /** seconds of traffic that are measured */
  readonly measureS: number;
  /** the peers this scenario compares when --peers is not given; absent: the default peers */
  readonly peers?: readonly string[];
  /**
   * Rooms: connection g joins room g % rooms (path `/room-<r>`) and publisher p speaks in room p % rooms; the
   * servers run with rooms on (the relay's `relay.rooms: true`). Absent: one topic for everyone.
   */
  readonly rooms?: number;
  /**
   * Loopback source addresses (127.0.0.2, 127.0.0.3, ...) the connections bind to in turn, so one machine is
   * not limited by the ephemeral ports (and the port search) of a single source address. Absent: 127.0.0.1.
   */
  readonly sources?: number;
  /** seconds between RSS samples of the server during traffic (drift over a soak); absent: 1 */
  readonly rssEveryS?: number;
}

const SUBSCRIBERS = [100, 1000, 5000] as const;
const PUBLISHERS = [1, 10] as const;
const PAYLOADS = [64, 1024, 16 * 1024] as const;
const MODES: readonly Mode[] = ['fixed', 'max'];

/**
 * Fixed-rate load in deliveries per second: at most a quarter of what `ws` and `gorilla` reach at
 * max rate on one core here (40k–200k/s), so the comparison is of latency, not of queueing behind
 * a saturated server. Every publisher still sends at least one message per second, so 10
 * publishers × 5,000 subscribers run at 50k/s.
 */
const FIXED_DELIVERIES_PER_S = 10_000;
const FIXED_BYTES_PER_S = 80 * 1024 * 1024;

/**
 * Bytes a subscriber may have queued in max mode. The relay disconnects a client past
 * max_backpressure_bytes (1 MiB by default), so the closed loop stays well below it.
 */
const INFLIGHT_BYTES_PER_SUBSCRIBER = 256 * 1024;
const MAX_INFLIGHT = 32;

function label(n: number): string {
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

function payloadLabel(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024}kib` : `${bytes}b`;
}

/** Builds one grid scenario; its name encodes every dimension, e.g. `max-1k-1p-64b`. */
export function gridScenario(mode: Mode, subscribers: number, publishers: number, payloadBytes: number): Scenario {
  const deliveriesPerS = Math.min(FIXED_DELIVERIES_PER_S, FIXED_BYTES_PER_S / payloadBytes);
  return {
    name: `${mode}-${label(subscribers)}-${publishers}p-${payloadLabel(payloadBytes)}`,
    subscribers,
    publishers,
    payloadBytes,
    mode,
    text: false,
    rateMsgsPerS: Math.max(publishers, Math.round(deliveriesPerS / subscribers)),
    inflight: Math.max(publishers, Math.min(MAX_INFLIGHT, Math.floor(INFLIGHT_BYTES_PER_SUBSCRIBER / (payloadBytes + 14)))),
    warmupS: 0.5,
    measureS: mode === 'fixed' ? 4 : 2,
  };
}

export const GRID: readonly Scenario[] = MODES.flatMap((mode) =>
  SUBSCRIBERS.flatMap((subs) => PUBLISHERS.flatMap((pubs) => PAYLOADS.map((bytes) => gridScenario(mode, subs, pubs, bytes)))),
);

/** Scenarios that compare the relay with bare uWS only (both can run rooms). */
const PARITY_PEERS = ['relay', 'uws-raw'] as const;

/** Tiny runs that check the harness (delivery, loss accounting, text and binary), never timing. */
export const QUICK: readonly Scenario[] = [
  { ...gridScenario('fixed', 20, 2, 64), name: 'quick-fixed-text', text: true, rateMsgsPerS: 200, warmupS: 0.2, measureS: 0.5 },
  { ...gridScenario('max', 20, 2, 1024), name: 'quick-max-binary', warmupS: 0.2, measureS: 0.5 },
  // rooms and source addresses: a message must reach its own room only, from connections on 127.0.0.2 and .3
  { ...gridScenario('fixed', 22, 8, 64), name: 'quick-rooms', rooms: 4, sources: 2, rateMsgsPerS: 160, warmupS: 0.2, measureS: 0.5, peers: PARITY_PEERS },
  // wss://: the load generator's TLS against the relay's and bare uWS's
  { ...gridScenario('max', 20, 2, 1024), name: 'quick-tls', warmupS: 0.2, measureS: 0.5, peers: ['relay-tls', 'uws-raw-tls'] },
];

/**
 * The scenarios users run, each compared with bare uWS (`uws-raw`) paired within rounds, max latency as well
 * as p99. Not in the default suite: `--scenario users` runs all but the soak.
 */

/** Connections the scale scenarios open at most: the hard open-file limit here is 20,000 per process. */
export const SCALE_MAX_CONNECTIONS = 19_900;

function scaleScenario(name: string, subscribers: number): Scenario {
  // one publisher, 2 msg/s: each message's max latency is the time until the last subscriber had it
  return { ...gridScenario('fixed', subscribers, 1, 64), name, rateMsgsPerS: 2, warmupS: 0.5, measureS: 5, sources: 8, peers: PARITY_PEERS };
}

export const USERS: readonly Scenario[] = [
  // 500 rooms of 10, one publisher each (relay.rooms: true): small fan-outs, where per-message work shows
  {
    ...gridScenario('fixed', 5000, 500, 64),
    name: 'rooms-500x10-fixed',
    rooms: 500,
    rateMsgsPerS: 2000,
    warmupS: 1,
    measureS: 5,
    sources: 2,
    peers: PARITY_PEERS,
  },
  { ...gridScenario('max', 5000, 500, 64), name: 'rooms-500x10-max', rooms: 500, inflight: 1000, warmupS: 1, measureS: 3, sources: 2, peers: PARITY_PEERS },
  // chat: 1,000 clients in one room, every one publishing once, spread over the run (text): the tail is the
  // allocation and GC story. The load generator sends at least one message per publisher, so 1,000 publishers
  // over 11 s cannot go below about 91 msg/s (91k deliveries/s).
  {
    ...gridScenario('fixed', 1000, 1000, 128),
    name: 'chat-1k',
    text: true,
    rateMsgsPerS: 100,
    warmupS: 1,
    measureS: 10,
    peers: PARITY_PEERS,
  },
  // connection scale: accept rate (connect time), RSS per connection, and the time until the last subscriber has a message
  scaleScenario('scale-10k', 10_000),
  scaleScenario('scale-18k', 18_000),
  scaleScenario('scale-19.9k', SCALE_MAX_CONNECTIONS),
];

/**
 * TLS: the relay with and without `server.tls`, and bare uWS with TLS, on the default suite's loads. The
 * load generator decrypts every delivery, so at max rate it saturates first: read server CPU per delivery.
 */
const TLS_PEERS = ['relay', 'relay-tls', 'uws-raw-tls'] as const;
export const TLS: readonly Scenario[] = [
  { ...gridScenario('max', 1000, 1, 64), name: 'tls-max-1k-1p-64b', peers: TLS_PEERS },
  { ...gridScenario('fixed', 1000, 10, 1024), name: 'tls-fixed-1k-10p-1kib', peers: TLS_PEERS },
];

/** A fixed rate for minutes: RSS drift and loss. Run it on its own (`--scenario soak --repeat 1`). */
export const SOAK: readonly Scenario[] = [
  { ...gridScenario('fixed', 1000, 10, 1024), name: 'soak-1k-2m', rateMsgsPerS: 20, warmupS: 5, measureS: 120, rssEveryS: 5, peers: PARITY_PEERS },
];

/**
 * uWS threads (server.workers): 1, 2 and auto on the same loads, bare uWS first. Read server CPU per delivery (every
 * thread) against relay-w1, and deliveries/s. Give the server its cores with --server-cpus (auto follows them); on a
 * machine with fewer cores than threads the threads share cores, which shows their cost but not their gain.
 */
const WORKER_PEERS = ['uws-raw', 'relay-w1', 'relay-w2', 'relay'] as const;
export const WORKERS: readonly Scenario[] = [
  { ...gridScenario('max', 1000, 1, 64), name: 'workers-max-1k-1p-64b', peers: WORKER_PEERS },
  { ...gridScenario('max', 1000, 10, 64), name: 'workers-max-1k-10p-64b', peers: WORKER_PEERS },
  { ...gridScenario('max', 5000, 500, 64), name: 'workers-rooms-500x10-max', rooms: 500, inflight: 1000, warmupS: 1, measureS: 3, sources: 2, peers: WORKER_PEERS },
];

/**
 * Slow consumers: `stalled` clients that complete the handshake and stop reading (with `stalledRead` they read
 * everything: the run to compare with) beside `healthy` readers, while one publisher sends `payloadBytes` at
 * `rateMsgsPerS` for `seconds`. Run by bench/slow/ (not the load generator): the healthy readers' loss and latency,
 * peak RSS, how long until the server had closed every stalled connection, and what those clients read last.
 */
export interface SlowScenario {
  readonly name: string;
  readonly stalled: number;
  readonly stalledRead: boolean;
  readonly healthy: number;
  readonly payloadBytes: number;
  readonly rateMsgsPerS: number;
  readonly seconds: number;
  /** absent: relay, uws-raw, ws, gorilla */
  readonly peers?: readonly string[];
}

/** 16 KiB at 50/s (800 KB/s into each socket) for 15 s: the 1,000-stalled case, and its control run. */
const SLOW_1K = { stalled: 1000, healthy: 4, payloadBytes: 16 * 1024, rateMsgsPerS: 50, seconds: 15 } as const;
export const SLOW: readonly SlowScenario[] = [
  { ...SLOW_1K, name: 'slow-1k-reading', stalledRead: true },
  { ...SLOW_1K, name: 'slow-1k-stalled', stalledRead: false },
];

/**
 * The slow-consumer scenarios' control with a C client: the same stream (16 KiB at 50/s) to 1,000 subscribers that all
 * read, through the load generator, so the readers keep up (one Node process cannot read 800 MB/s). What the healthy
 * readers' latency in slow-1k-stalled is to be compared with. Part of `--scenario slow`.
 */
export const SLOW_BASELINE: readonly Scenario[] = [
  { ...gridScenario('fixed', SLOW_1K.stalled, 1, SLOW_1K.payloadBytes), name: 'slow-1k-baseline', rateMsgsPerS: SLOW_1K.rateMsgsPerS, warmupS: 1, measureS: SLOW_1K.seconds },
];

/** --quick: the slow-consumer harness on every default peer, 20 stalled clients for 2 s (checks it runs, never timing). */
export const QUICK_SLOW: readonly SlowScenario[] = [{ ...SLOW_1K, name: 'quick-slow', stalled: 20, healthy: 2, seconds: 2, stalledRead: false }];

/**
 * Takes the slow-consumer scenarios out of a --scenario spec: the group `slow`, their names, and (for `quick`)
 * QUICK_SLOW. `rest` is what selectScenarios gets (`quick` stays in it).
 */
export function splitSlow(spec: string): { slow: SlowScenario[]; rest: string } {
  const slow: SlowScenario[] = [];
  const rest: string[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const named = [...SLOW, ...QUICK_SLOW].find((s) => s.name === part);
    if (part === 'slow') {
      slow.push(...SLOW);
      rest.push(...SLOW_BASELINE.map((s) => s.name));
    }
    else if (named) slow.push(named);
    else rest.push(part);
    if (part === 'quick') slow.push(...QUICK_SLOW);
  }
  return { slow, rest: rest.join(',') };
}

/** A grid scenario renamed `cluster-…`, comparing two relay instances over Redis with one relay process. */
function clusterScenario(mode: Mode, subscribers: number, publishers: number, payloadBytes: number): Scenario {
  const grid = gridScenario(mode, subscribers, publishers, payloadBytes);
  return { ...grid, name: `cluster-${grid.name}`, peers: ['relay', 'relay-cluster'] };
}

/**
 * Two relay instances over Redis (`relay-cluster`) beside one relay process, on the same loads.
 * fixed-100-1p-64b: a small fan-out, so the cross-instance column shows mostly the hop through Redis.
 * fixed-1k-10p-1kib (the default suite's; five publishers on each instance): the hop at 1,000
 * subscribers, where a message waits for its origin's local fan-out before it is sent on.
 * max-1k-1p-64b (the default suite's): throughput when every message also crosses.
 */
export const CLUSTER: readonly Scenario[] = [
  clusterScenario('fixed', 100, 1, 64),
  clusterScenario('fixed', 1000, 10, 1024),
  clusterScenario('max', 1000, 1, 64),
];

/**
 * The default suite, a few minutes with four peers and three repeats: the throughput target
 * (max, 1,000 and 5,000 subscribers, 64 B, which also gives idle memory at 5,000 connections) and
 * fixed-rate latency at small and large payloads.
 */
export const DEFAULT_SUITE: readonly string[] = ['max-1k-1p-64b', 'max-5k-1p-64b', 'fixed-1k-10p-1kib', 'fixed-100-1p-16kib'];

export const ALL: readonly Scenario[] = [...GRID, ...CLUSTER, ...USERS, ...TLS, ...SOAK, ...WORKERS, ...SLOW_BASELINE, ...QUICK];

/** Named groups --scenario accepts besides single names. */
const GROUPS: Readonly<Record<string, () => readonly Scenario[]>> = {
  all: () => GRID,
  quick: () => QUICK,
  cluster: () => CLUSTER,
  default: () => DEFAULT_SUITE.map(byName),
  users: () => USERS,
  rooms: () => USERS.filter((s) => s.rooms !== undefined),
  scale: () => USERS.filter((s) => s.name.startsWith('scale-')),
  soak: () => SOAK,
  tls: () => TLS,
  workers: () => WORKERS,
};

/** Resolves a group (`default`, `all`, `quick`, `cluster`, `users`, `rooms`, `scale`, `soak`, `tls`, `workers`) or a comma list of names; throws on an unknown name. */
export function selectScenarios(spec: string): Scenario[] {
  const out: Scenario[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const group = Object.hasOwn(GROUPS, part) ? GROUPS[part] : undefined;
    out.push(...(group ? group() : [byName(part)]));
  }
  return out;
}

function byName(name: string): Scenario {
  const found = ALL.find((s) => s.name === name);
  if (!found) throw new Error(`unknown scenario "${name}" (see --list)`);
  return found;
}
