// The terminal report: one row per scenario and peer, then the targets.
import type { Scenario } from '../scenarios.js';
import type { PeerSummary, Ratio, Spread } from '../summary.js';
import type { Target } from '../targets.js';
import { count, fixed, micros, withSpread } from './format.js';

const HEADER = ['scenario', 'peer', 'deliveries/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'lost/dup/ooo', 'srv µs/deliv', 'srv CPU%', 'KiB/conn', 'client CPU%', 'other CPU%', 'relay ×', 'cpu ×', 'flags'];

export function flags(s: PeerSummary): string {
  const out: string[] = [];
  if (s.failed) out.push(`FAILED ${s.failed}/${s.trials}`);
  if (s.lost || s.duplicated || s.outOfOrder || s.malformed) out.push('LOSS');
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

/** Plain-text table with columns padded to their widest cell. */
export function renderTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function renderReport(scenarios: readonly Scenario[], summaries: readonly PeerSummary[], ratios: readonly Ratio[], targets: readonly Target[]): string {
  const parts = [renderTable(HEADER, rows(summaries, ratios))];
  parts.push(
    '',
    'Medians over rounds, [min–max] when they differ. relay × = relay deliveries/s ÷ peer deliveries/s, paired within each round;',
    'cpu × = peer server CPU per delivery ÷ relay\'s (above 1: relay is cheaper), steadier than deliveries/s on a busy machine.',
    'Fixed-rate latency is from the intended send time. CPU% is of one core; other CPU% is what other processes used meanwhile.',
    'Other columns show medians; the JSON and HTML reports have every [min–max].',
    `scenarios: ${scenarios.map((s) => `${s.name} (${describe(s)})`).join('; ')}`,
  );
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
  return `${s.mode}, ${s.subscribers} subs, ${s.publishers} pub, ${s.payloadBytes} B ${s.text ? 'text' : 'binary'}, ${load}, ${s.measureS}s`;
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
