// One trial: a fresh peer, its baseline and idle memory, one load generator run, its CPU, then stop.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CpuPlan } from './cpus.js';
import { runLoadgen } from './loadgen/client.js';
import type { LoadgenLatency, LoadgenResult } from './loadgen/client.js';
import type { Peer, RelayVariant } from './peers/types.js';
import { cpuTicks, machineTicks, rssKiB, sum } from './proc.js';
import type { MachineTicks } from './proc.js';
import type { Scenario } from './scenarios.js';

export interface LatencyUs {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface Trial {
  readonly scenario: string;
  readonly peer: string;
  /** what the server ran on (Node and uWS build), when its listening line says */
  readonly runtime?: string;
  /** 0-based repeat round; ratios pair trials of the same round */
  readonly round: number;
  /** position of this peer within its round (orders rotate between rounds) */
  readonly position: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly deliveriesPerS: number;
  readonly latencyUs: LatencyUs;
  /**
   * Latency of the deliveries that crossed instances (receiver connected to another URL than the
   * publisher); null for a single-URL peer or when none were measured.
   */
  readonly remoteLatencyUs: LatencyUs | null;
  /** how many measured deliveries (sent after warm-up) crossed instances; null for a single-URL peer */
  readonly remoteDeliveries: number | null;
  /** remoteDeliveries ÷ measured deliveries (0.5 with subscribers spread over two instances); null for a single-URL peer */
  readonly remoteShare: number | null;
  readonly sent: number;
  readonly expected: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  /** wrong opcode, wrong length, unparsable header or protocol error */
  readonly malformed: number;
  readonly disconnects: number;
  /**
   * Messages the server counted as dropped between instances (relay_backplane_dropped_total summed
   * over a cluster's instances after traffic); null for a single process.
   */
  readonly backplaneDropped: number | null;
  /** server CPU (user + system) per delivery during traffic, µs; null without a PID */
  readonly serverCpuUsPerDelivery: number | null;
  /** server CPU during traffic, % of one core */
  readonly serverCpuPct: number | null;
  readonly baselineRssKiB: number | null;
  readonly idleRssKiB: number | null;
  /** (idle RSS with every connection open - baseline RSS) / connections */
  readonly kibPerConnection: number | null;
  /**
   * Server RSS during traffic, sampled every `rssEveryS` (1 s by default): `first` is the first sample after
   * warm-up, `last` is read after the last delivery; null without a PID
   */
  readonly trafficRssKiB: { readonly first: number; readonly peak: number; readonly last: number } | null;
  /** load generator CPU during traffic, % of one core */
  readonly clientCpuPct: number;
  /**
   * CPU that other processes used during traffic, % of one core: on a shared machine they compete
   * with the server and the load generator, and a high value says the numbers carry that noise.
   */
  readonly otherCpuPct: number | null;
  /** irq + softirq during traffic, % of one core (loopback TCP work no process is charged for) */
  readonly interruptCpuPct: number | null;
  /** hypervisor steal during traffic, % of one core */
  readonly stealCpuPct: number | null;
  readonly clientThreads: number;
  readonly loadgenSaturated: boolean;
  readonly stalled: boolean;
  /** connections the load generator opened, and how long opening all of them took */
  readonly connections: number;
  readonly connectMs: number;
}

/**
 * A newly accepted connection's memory is not all allocated by the time the handshake completes
 * (gorilla registers through a channel, V8 allocates lazily), so idle RSS is read after a pause.
 */
const IDLE_SETTLE_MS = 400;
const BASELINE_SETTLE_MS = 300;

export interface TrialInput {
  readonly scenario: Scenario;
  readonly peer: Peer;
  readonly round: number;
  readonly position: number;
  readonly loadgen: string;
  readonly cpus: CpuPlan;
  readonly profileDir: string | null;
  readonly relay?: RelayVariant;
}

/** Never throws for a failing peer: the failure is recorded in the trial so the suite goes on. */
export async function runTrial(input: TrialInput): Promise<Trial> {
  const { scenario, peer, cpus } = input;
  const base = { scenario: scenario.name, peer: peer.name, round: input.round, position: input.position };
  let instance;
  try {
    instance = await peer.start({ cpus: cpus.server, profileDir: input.profileDir, rooms: scenario.rooms !== undefined, ...(input.relay ? { relay: input.relay } : {}) });
  } catch (err) {
    return failed(base, `start: ${(err as Error).message}`);
  }
  const pids = instance.pids;
  try {
    await sleep(BASELINE_SETTLE_MS);
    const baselineRss = pids.length ? sum(pids, rssKiB) : null;
    let idleRss: number | null = null;
    let ticksAtGo = 0;
    let machineAtGo: MachineTicks = { processes: 0, interrupts: 0, steal: 0 };
    let goAt = 0;
    const samples: { atS: number; kiB: number }[] = [];
    let sampler: NodeJS.Timeout | null = null;
    const sample = (): void => {
      if (pids.length) samples.push({ atS: (performance.now() - goAt) / 1000, kiB: sum(pids, rssKiB) });
    };
    const result = await runLoadgen({
      binary: input.loadgen,
      urls: instance.urls,
      scenario,
      threads: cpus.loadgenThreads,
      cpus: cpus.loadgen,
      onConnected: async () => {
        await sleep(IDLE_SETTLE_MS);
        if (pids.length) {
          idleRss = sum(pids, rssKiB);
          ticksAtGo = sum(pids, cpuTicks);
        }
        machineAtGo = machineTicks();
        goAt = performance.now();
        sampler = setInterval(sample, 1000 * (scenario.rssEveryS ?? 1));
      },
    }).finally(() => {
      if (sampler) clearInterval(sampler);
    });
    sample();
    const ticks = pids.length ? sum(pids, cpuTicks) - ticksAtGo : null;
    // read before close: the counters live in the processes
    const backplaneDropped = instance.backplaneDropped
      ? await instance.backplaneDropped().catch((err: unknown) => {
          throw new Error(`reading relay_backplane_dropped_total: ${String(err)}`);
        })
      : null;
    const now = machineTicks();
    const machine = { processes: now.processes - machineAtGo.processes, interrupts: now.interrupts - machineAtGo.interrupts, steal: now.steal - machineAtGo.steal };
    const trafficS = (performance.now() - goAt) / 1000;
    const trafficRss = trafficRssOf(samples, scenario.warmupS);
    const trial = fromResult(base, result, { baselineRss, idleRss, trafficRss, ticks, machine, trafficS, clockTicks: cpus.clockTicks, backplaneDropped });
    return { ...trial, runtime: instance.runtime };
  } catch (err) {
    return failed(base, (err as Error).message);
  } finally {
    await instance.close();
  }
}

/** First sample after warm-up (or the first one), peak, and the final sample. */
export function trafficRssOf(samples: readonly { atS: number; kiB: number }[], warmupS: number): Trial['trafficRssKiB'] {
  const last = samples[samples.length - 1];
  if (!last) return null;
  const first = samples.find((s) => s.atS >= warmupS) ?? last;
  return { first: first.kiB, peak: Math.max(...samples.map((s) => s.kiB)), last: last.kiB };
}

interface ServerSide {
  readonly baselineRss: number | null;
  readonly idleRss: number | null;
  readonly trafficRss: Trial['trafficRssKiB'];
  readonly ticks: number | null;
  readonly machine: MachineTicks;
  readonly trafficS: number;
  readonly clockTicks: number;
  readonly backplaneDropped: number | null;
}

type TrialBase = Pick<Trial, 'scenario' | 'peer' | 'round' | 'position'>;

function fromResult(base: TrialBase, r: LoadgenResult, server: ServerSide): Trial {
  const cpuS = server.ticks === null ? null : server.ticks / server.clockTicks;
  const us = (ns: number): number => ns / 1000;
  const pct = (seconds: number): number | null => (server.trafficS > 0 ? (100 * seconds) / server.trafficS : null);
  const problems = [r.error, r.stalled ? 'stalled: in-flight messages stopped completing' : null].filter((p): p is string => p !== null);
  const latency = (ns: LoadgenLatency): LatencyUs => ({ p50: us(ns.p50), p90: us(ns.p90), p99: us(ns.p99), p999: us(ns.p999), max: us(ns.max) });
  const remote = r.remote_latency_ns;
  return {
    ...base,
    ok: r.ok && !r.stalled,
    error: problems.length ? problems.join('; ') : null,
    deliveriesPerS: r.deliveries_per_s,
    latencyUs: latency(r.latency_ns),
    remoteLatencyUs: remote && remote.count > 0 ? latency(remote) : null,
    remoteDeliveries: remote ? remote.count : null,
    remoteShare: remote && r.latency_ns.count > 0 ? remote.count / r.latency_ns.count : null,
    sent: r.sent,
    expected: r.expected,
    delivered: r.delivered,
    lost: r.lost,
    duplicated: r.dup,
    outOfOrder: r.ooo,
    malformed: r.bad,
    disconnects: r.disconnects,
    backplaneDropped: server.backplaneDropped,
    serverCpuUsPerDelivery: cpuS === null || r.delivered === 0 ? null : (cpuS * 1e6) / r.delivered,
    serverCpuPct: cpuS === null || server.trafficS <= 0 ? null : (100 * cpuS) / server.trafficS,
    baselineRssKiB: server.baselineRss,
    idleRssKiB: server.idleRss,
    kibPerConnection: server.baselineRss === null || server.idleRss === null ? null : (server.idleRss - server.baselineRss) / r.subs,
    trafficRssKiB: server.trafficRss,
    clientCpuPct: r.cpu_pct,
    otherCpuPct: pct(Math.max(0, server.machine.processes / server.clockTicks - (cpuS ?? 0) - r.cpu_s)),
    interruptCpuPct: pct(server.machine.interrupts / server.clockTicks),
    stealCpuPct: pct(server.machine.steal / server.clockTicks),
    clientThreads: r.threads,
    loadgenSaturated: r.saturated,
    stalled: r.stalled,
    connections: r.subs,
    connectMs: r.connect_ms,
  };
}

function failed(base: TrialBase, error: string): Trial {
  return {
    ...base,
    ok: false,
    error,
    deliveriesPerS: 0,
    latencyUs: { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
    remoteLatencyUs: null,
    remoteDeliveries: null,
    remoteShare: null,
    sent: 0,
    expected: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    malformed: 0,
    disconnects: 0,
    backplaneDropped: null,
    serverCpuUsPerDelivery: null,
    serverCpuPct: null,
    baselineRssKiB: null,
    idleRssKiB: null,
    kibPerConnection: null,
    trafficRssKiB: null,
    clientCpuPct: 0,
    otherCpuPct: null,
    interruptCpuPct: null,
    stealCpuPct: null,
    clientThreads: 0,
    loadgenSaturated: false,
    stalled: false,
    connections: 0,
    connectMs: 0,
  };
}
