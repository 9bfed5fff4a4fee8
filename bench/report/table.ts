// The terminal report: one row per scenario and peer, then the targets.
import type { Scenario } from '../scenarios.js';
import type { PeerSummary, Ratio, Spread } from '../summary.js';
import type { Target } from '../targets.js';
import { count, fixed, micros, withSpread } from './format.js';
import { PARITY_HEADING, parityLines } from './parity.js';

/** Cross-instance latency of a cluster peer; the column is left out of runs without one. */
export const CROSS_INSTANCE = 'x-inst p50/p99';
const CROSS_AT = 8;

const HEADER = ['scenario', 'peer', 'deliveries/s', 'p50', 'p90', 'p99', 'p99.9', 'max', CROSS_INSTANCE, 'lost/dup/ooo', 'srv µs/deliv', 'srv CPU%', 'KiB/conn', 'client CPU%', 'other CPU%', 'relay ×', 'cpu ×', 'flags'];

export function flags(s: PeerSummary): string {
  const out: string[] = [];
  if (s.failed) out.push(`FAILED ${s.failed}/${s.trials}`);
  if (s.lost || s.duplicated || s.outOfOrder || s.malformed || s.backplaneDropped) out.push('LOSS');
  if (s.backplaneDropped) out.push(`BACKPLANE-DROPPED ${s.backplaneDropped}`);
  if (s.saturatedTrials) out.push(`LOADGEN-SATURATED ${s.saturatedTrials}/${s.trials}`);
  if (s.busyMachineTrials) out.push(`BUSY-MACHINE ${s.busyMachineTrials}/${s.trials}`);
  return out.join(' ');
}

/**
 * One row per scenario and peer. `full` shows [min–max] in every column (HTML); otherwise only for
 * deliveries/s, p99 and the ratio, so the terminal table fits a wide terminal.
 */
export function rows(summaries: readonly PeerSummary[], ratios: readonly Ratio[], full = false): string[][] {
  const m = (s: Spread | null, f: (v: number) => string): string => (full ? withSpread(s, f) : s ? f(s.median) : '-');
  return summaries.map((s) => {
    const r = ratios.find((x) => x.scenario === s.scenario && x.peer === s.peer);
    return [
      s.scenario,
      s.peer,
      withSpread(s.deliveriesPerS, count),
      m(s.p50Us, micros),
      m(s.p90Us, micros),
      withSpread(s.p99Us, micros),
      m(s.p999Us, micros),
      m(s.maxUs, micros),
      crossInstance(s, full),
      `${s.lost}/${s.duplicated}/${s.outOfOrder}${s.malformed ? ` bad ${s.malformed}` : ''}`,
      m(s.serverCpuUsPerDelivery, fixed(3)),
      m(s.serverCpuPct, fixed(0)),
      m(s.kibPerConnection, fixed(2)),
      m(s.clientCpuPct, fixed(0)),
      m(s.otherCpuPct, fixed(0)),
      s.peer === 'relay' ? '1' : withSpread(r?.throughput ?? null, fixed(2)),
      s.peer === 'relay' ? '1' : m(r?.cpuPerDelivery ?? null, fixed(2)),
      flags(s),
    ];
  });
}

/** "p50 / p99" of the deliveries that crossed instances, or '-' for a single-process peer. */
export function crossInstance(s: PeerSummary, full = false): string {
  if (!s.remote) return '-';
  const f = (v: Spread | null): string => (full ? withSpread(v, micros) : v ? micros(v.median) : '-');
  return `${f(s.remote.p50Us)} / ${f(s.remote.p99Us)}`;
}

/** Header and rows without the cross-instance column when no peer in the run is a cluster. */
export function dropCrossInstance(header: readonly string[], body: readonly (readonly string[])[], at = CROSS_AT): [string[], string[][]] {
  if (body.some((row) => row[at] !== '-')) return [[...header], body.map((r) => [...r])];
  const without = <T>(row: readonly T[]): T[] => row.filter((_, i) => i !== at);
  return [without(header), body.map(without)];
}

/**
 * One line per scenario with a cluster peer: its cross-instance latency, its latency over all
 * deliveries, and the single-process relay's in the same scenario, with the p99 ratio paired by round.
 */
export function clusterLines(summaries: readonly PeerSummary[], ratios: readonly Ratio[]): string[] {
  const lines: string[] = [];
  const pair = (p50: Spread | null, p99: Spread | null): string => `p50 ${withSpread(p50, micros)}, p99 ${withSpread(p99, micros)}`;
  for (const s of summaries) {
    const remote = s.remote;
    if (!remote) continue;
    const share = remote.share ? ` (${(100 * remote.share.median).toFixed(0)}% of deliveries)` : '';
    const parts = [`${s.scenario}: ${s.peer} cross-instance ${pair(remote.p50Us, remote.p99Us)}${share}`, `all its deliveries ${pair(s.p50Us, s.p99Us)}`];
    const single = summaries.find((x) => x.scenario === s.scenario && x.peer === 'relay');
    if (single) parts.push(`relay (one process) ${pair(single.p50Us, single.p99Us)}`);
    const ratio = ratios.find((r) => r.scenario === s.scenario && r.peer === s.peer)?.remoteP99;
    if (ratio) parts.push(`cross-instance p99 ÷ relay p99 = ${withSpread(ratio, fixed(2))}`);
    if (s.backplaneDropped !== null) parts.push(`backplane dropped ${s.backplaneDropped}`);
    lines.push(`  ${parts.join('; ')}`);
  }
  return lines;
}

/** Plain-text table with columns padded to their widest cell. */
export function renderTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function renderReport(scenarios: readonly Scenario[], summaries: readonly PeerSummary[], ratios: readonly Ratio[], targets: readonly Target[]): string {
  const parts = [renderTable(...dropCrossInstance(HEADER, rows(summaries, ratios)))];
  parts.push(
    '',
    'Medians over rounds, [min–max] when they differ. relay × = relay deliveries/s ÷ peer deliveries/s, paired within each round;',
    'cpu × = peer server CPU per delivery ÷ relay\'s (above 1: relay is cheaper), steadier than deliveries/s on a busy machine.',
    'Fixed-rate latency is from the intended send time. CPU% is of one core; other CPU% is what other processes used meanwhile.',
    'Other columns show medians; the JSON and HTML reports have every [min–max].',
    `scenarios: ${scenarios.map((s) => `${s.name} (${describe(s)})`).join('; ')}`,
  );
  const parity = parityLines(scenarios, summaries, ratios);
  if (parity.length) parts.push('', PARITY_HEADING, ...parity);
  const cluster = clusterLines(summaries, ratios);
  if (cluster.length) parts.push('', 'cluster (x-inst = deliveries that crossed instances through Redis):', ...cluster);
  const noise = noiseLines(summaries, scenarios);
  if (noise.length) parts.push('', 'noise (spread of the same peer over rounds; differences inside it are not results):', ...noise);
  const errors = summaries.flatMap((s) => s.errors.map((e) => `  ${s.scenario} / ${s.peer}: ${e}`));
  if (errors.length) parts.push('', 'errors:', ...errors);
  if (targets.length) parts.push('', 'targets (reported, not asserted):');
  for (const t of targets) {
    const verdict = t.met === null ? 'n/a ' : t.met ? 'met ' : 'MISS';
    parts.push(`  [${verdict}] ${t.name}: wanted ${t.wanted}; measured ${t.measured}${t.resolved ? '' : ' (NOISY: rounds fall on both sides)'}`);
  }
  return parts.join('\n');
}

export function describe(s: Scenario): string {
  const load = s.mode === 'fixed' ? `${s.rateMsgsPerS} msg/s` : `${s.inflight} in flight`;
  const rooms = s.rooms === undefined ? '' : `, ${s.rooms} rooms`;
  const sources = s.sources === undefined ? '' : `, from ${s.sources} source addresses`;
  return `${s.mode}, ${s.subscribers} subs, ${s.publishers} pub${rooms}, ${s.payloadBytes} B ${s.text ? 'text' : 'binary'}, ${load}, ${s.measureS}s${sources}`;
}

/**
 * (max - min) / 2 / median over rounds for each peer: of deliveries/s at max rate, of p99 at fixed rate
 * (where deliveries/s is set by the scenario).
 */
export function noiseLines(summaries: readonly PeerSummary[], scenarios: readonly Scenario[]): string[] {
  const lines: string[] = [];
  for (const scenario of scenarios) {
    const metric = scenario.mode === 'max' ? 'deliveries/s' : 'p99';
    const parts = summaries
      .filter((s) => s.scenario === scenario.name)
      .map((s) => ({ peer: s.peer, d: scenario.mode === 'max' ? s.deliveriesPerS : s.p99Us }))
      .filter((x): x is { peer: string; d: Spread } => x.d !== null && x.d.n > 1 && x.d.median > 0)
      .map(({ peer, d }) => `${peer} ±${((50 * (d.max - d.min)) / d.median).toFixed(0)}%`);
    if (parts.length) lines.push(`  ${scenario.name} (${metric}): ${parts.join(', ')}`);
  }
  return lines;
}
