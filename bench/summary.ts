// Turns trials into medians with min–max spread, ratios against `relay` paired within each round,
// and the targets with the values measured. Pure: no I/O.
import type { LatencyUs, Trial } from './trial.js';

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Latency of the deliveries that crossed instances in a cluster, medians over rounds. */
export interface RemoteSummary {
  readonly p50Us: Spread | null;
  readonly p90Us: Spread | null;
  readonly p99Us: Spread | null;
  readonly p999Us: Spread | null;
  readonly maxUs: Spread | null;
  /** share of the measured deliveries that crossed instances (0.5 with subscribers spread over two) */
  readonly share: Spread | null;
}

export interface PeerSummary {
  readonly scenario: string;
  readonly peer: string;
  readonly trials: number;
  readonly failed: number;
  readonly deliveriesPerS: Spread | null;
  readonly p50Us: Spread | null;
  readonly p90Us: Spread | null;
  readonly p99Us: Spread | null;
  readonly p999Us: Spread | null;
  readonly maxUs: Spread | null;
  readonly serverCpuUsPerDelivery: Spread | null;
  readonly kibPerConnection: Spread | null;
  /** server RSS with every connection open and idle, KiB */
  readonly idleRssKiB: Spread | null;
  /** connections opened per second by the load generator (handshakes completed ÷ time to open them all) */
  readonly acceptPerS: Spread | null;
  /** server RSS at the end of traffic minus after warm-up, KiB (a soak's drift) */
  readonly rssDriftKiB: Spread | null;
  /** highest server RSS sampled during traffic, KiB */
  readonly rssPeakKiB: Spread | null;
  readonly serverCpuPct: Spread | null;
  readonly clientCpuPct: Spread | null;
  readonly otherCpuPct: Spread | null;
  /** summed over trials, so a single lost message shows */
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly malformed: number;
  /** cross-instance latency; null for a single-process peer */
  readonly remote: RemoteSummary | null;
  /** relay_backplane_dropped_total summed over trials and instances; null when the peer has no backplane */
  readonly backplaneDropped: number | null;
  readonly saturatedTrials: number;
  /** trials during which other processes used more than BUSY_MACHINE_PCT of a core */
  readonly busyMachineTrials: number;
  readonly errors: readonly string[];
}

export interface Ratio {
  readonly scenario: string;
  readonly peer: string;
  /**
   * the peer's cross-instance p99 ÷ relay's (single-process) p99, per round: what the hop through
   * Redis costs at the tail; null for a single-process peer
   */
  readonly remoteP99: Spread | null;
  /** relay deliveries/s ÷ peer deliveries/s, per round */
  readonly throughput: Spread | null;
  /** peer p99 ÷ relay p99, per round (> 1: relay is faster) */
  readonly p99: Spread | null;
  /**
   * peer server CPU per delivery ÷ relay's, per round (> 1: relay is cheaper). Unlike deliveries/s
   * it hardly moves when other processes take CPU, so on a shared machine it is the steadier
   * measure of the relay's overhead.
   */
  readonly cpuPerDelivery: Spread | null;
  /**
   * The other way round, relay ÷ peer per round (above 1: the relay needed more), for reading the relay's
   * overhead over bare uWS directly: the median of per-round ratios is not the inverse of the other median.
   */
  readonly relayOver: RelayOver;
}

export interface RelayOver {
  readonly p99: Spread | null;
  readonly max: Spread | null;
  readonly cpuPerDelivery: Spread | null;
  /** RSS with every connection open and idle */
  readonly idleRss: Spread | null;
  /** time to open every connection */
  readonly connect: Spread | null;
}

/** Other processes using more than this share of one core during a trial mark it as run on a busy machine. */
export const BUSY_MACHINE_PCT = 25;

export function spread(values: readonly number[]): Spread | null {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return null;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, n: sorted.length };
}

function over(trials: readonly Trial[], pick: (t: Trial) => number | null): Spread | null {
  return spread(trials.filter((t) => t.ok).map(pick).filter((v): v is number => v !== null));
}

/** Cross-instance latency over the ok trials that measured some; null when none did (one URL). */
export function summarizeRemote(trials: readonly Trial[]): RemoteSummary | null {
  const measured = trials.filter((t) => t.ok && t.remoteLatencyUs !== null);
  if (measured.length === 0) return null;
  const pick = (f: (l: LatencyUs) => number): Spread | null => spread(measured.map((t) => (t.remoteLatencyUs ? f(t.remoteLatencyUs) : NaN)));
  return {
    p50Us: pick((l) => l.p50),
    p90Us: pick((l) => l.p90),
    p99Us: pick((l) => l.p99),
    p999Us: pick((l) => l.p999),
    maxUs: pick((l) => l.max),
    share: spread(measured.map((t) => t.remoteShare ?? NaN)),
  };
}

export function summarize(trials: readonly Trial[]): PeerSummary[] {
  const keys = [...new Set(trials.map((t) => `${t.scenario}\u0000${t.peer}`))];
  return keys.map((key) => {
    const [scenario = '', peer = ''] = key.split('\u0000');
    const mine = trials.filter((t) => t.scenario === scenario && t.peer === peer);
    const total = (pick: (t: Trial) => number): number => mine.reduce((acc, t) => acc + pick(t), 0);
    return {
      scenario,
      peer,
      trials: mine.length,
      failed: mine.filter((t) => !t.ok).length,
      deliveriesPerS: over(mine, (t) => t.deliveriesPerS),
      p50Us: over(mine, (t) => t.latencyUs.p50),
      p90Us: over(mine, (t) => t.latencyUs.p90),
      p99Us: over(mine, (t) => t.latencyUs.p99),
      p999Us: over(mine, (t) => t.latencyUs.p999),
      maxUs: over(mine, (t) => t.latencyUs.max),
      serverCpuUsPerDelivery: over(mine, (t) => t.serverCpuUsPerDelivery),
      kibPerConnection: over(mine, (t) => t.kibPerConnection),
      idleRssKiB: over(mine, (t) => t.idleRssKiB),
      acceptPerS: over(mine, (t) => (t.connectMs > 0 ? (1000 * t.connections) / t.connectMs : null)),
      rssDriftKiB: over(mine, (t) => (t.trafficRssKiB ? t.trafficRssKiB.last - t.trafficRssKiB.first : null)),
      rssPeakKiB: over(mine, (t) => t.trafficRssKiB?.peak ?? null),
      serverCpuPct: over(mine, (t) => t.serverCpuPct),
      clientCpuPct: over(mine, (t) => t.clientCpuPct),
      otherCpuPct: over(mine, (t) => t.otherCpuPct),
      lost: total((t) => t.lost),
      duplicated: total((t) => t.duplicated),
      outOfOrder: total((t) => t.outOfOrder),
      malformed: total((t) => t.malformed),
      remote: summarizeRemote(mine),
      backplaneDropped: mine.some((t) => t.backplaneDropped !== null) ? total((t) => t.backplaneDropped ?? 0) : null,
      saturatedTrials: mine.filter((t) => t.loadgenSaturated).length,
      busyMachineTrials: mine.filter((t) => (t.otherCpuPct ?? 0) > BUSY_MACHINE_PCT).length,
      errors: [...new Set(mine.map((t) => t.error).filter((e): e is string => e !== null))],
    };
  });
}

/** Ratios of each peer against `relay`, each computed from two trials of the same round. */
export function ratios(trials: readonly Trial[], reference = 'relay'): Ratio[] {
  const out: Ratio[] = [];
  const scenarios = [...new Set(trials.map((t) => t.scenario))];
  for (const scenario of scenarios) {
    const inScenario = trials.filter((t) => t.scenario === scenario && t.ok);
    const peers = [...new Set(inScenario.map((t) => t.peer))].filter((p) => p !== reference);
    for (const peer of peers) {
      const throughput: number[] = [];
      const p99: number[] = [];
      const cpu: number[] = [];
      const remoteP99: number[] = [];
      const over = { p99: [] as number[], max: [] as number[], cpu: [] as number[], rss: [] as number[], connect: [] as number[] };
      const push = (into: number[], relay: number | null, peer: number | null): void => {
        if (relay !== null && peer !== null && relay > 0 && peer > 0) into.push(relay / peer);
      };
      for (const other of inScenario.filter((t) => t.peer === peer)) {
        const ref = inScenario.find((t) => t.peer === reference && t.round === other.round);
        if (!ref) continue;
        if (other.deliveriesPerS > 0) throughput.push(ref.deliveriesPerS / other.deliveriesPerS);
        if (ref.latencyUs.p99 > 0) p99.push(other.latencyUs.p99 / ref.latencyUs.p99);
        if (ref.serverCpuUsPerDelivery && other.serverCpuUsPerDelivery) cpu.push(other.serverCpuUsPerDelivery / ref.serverCpuUsPerDelivery);
        if (ref.latencyUs.p99 > 0 && other.remoteLatencyUs) remoteP99.push(other.remoteLatencyUs.p99 / ref.latencyUs.p99);
        push(over.p99, ref.latencyUs.p99, other.latencyUs.p99);
        push(over.max, ref.latencyUs.max, other.latencyUs.max);
        push(over.cpu, ref.serverCpuUsPerDelivery, other.serverCpuUsPerDelivery);
        push(over.rss, ref.idleRssKiB, other.idleRssKiB);
        push(over.connect, ref.connectMs, other.connectMs);
      }
      if (throughput.length || p99.length) {
        out.push({
          scenario,
          peer,
          throughput: spread(throughput),
          p99: spread(p99),
          remoteP99: spread(remoteP99),
          cpuPerDelivery: spread(cpu),
          relayOver: {
            p99: spread(over.p99),
            max: spread(over.max),
            cpuPerDelivery: spread(over.cpu),
            idleRss: spread(over.rss),
            connect: spread(over.connect),
          },
        });
      }
    }
  }
  return out;
}
