// A Markdown version of the summary, for pasting a run into the README or an issue.
import type { Machine } from '../machine.js';
import type { Scenario } from '../scenarios.js';
import type { PeerSummary, Ratio } from '../summary.js';
import type { Target } from '../targets.js';
import { count, fixed, micros, withSpread } from './format.js';
import { PARITY_HEADING, parityLines } from './parity.js';
import { CROSS_INSTANCE, clusterLines, crossInstance, dropCrossInstance } from './table.js';

const HEADER = ['scenario', 'peer', 'deliveries/s', 'p50', 'p99', 'p99.9', 'max', CROSS_INSTANCE, 'lost/dup/ooo', 'server µs/delivery', 'KiB/conn', 'client CPU %', 'relay ×', 'cpu ×', 'flags'];

export function renderMarkdown(
  machine: Machine,
  summaries: readonly PeerSummary[],
  ratios: readonly Ratio[],
  targets: readonly Target[],
  flagsOf: (s: PeerSummary) => string,
  scenarios: readonly Scenario[] = [],
): string {
  const median = (v: { median: number } | null, f: (n: number) => string): string => (v ? f(v.median) : '-');
  const body = summaries.map((s) => {
    const r = ratios.find((x) => x.scenario === s.scenario && x.peer === s.peer);
    return [
      `\`${s.scenario}\``,
      s.peer,
      withSpread(s.deliveriesPerS, count),
      median(s.p50Us, micros),
      withSpread(s.p99Us, micros),
      median(s.p999Us, micros),
      median(s.maxUs, micros),
      crossInstance(s),
      `${s.lost}/${s.duplicated}/${s.outOfOrder}`,
      median(s.serverCpuUsPerDelivery, fixed(3)),
      median(s.kibPerConnection, fixed(2)),
      median(s.clientCpuPct, fixed(0)),
      s.peer === 'relay' ? '1' : withSpread(r?.throughput ?? null, fixed(2)),
      s.peer === 'relay' ? '1' : median(r?.cpuPerDelivery ?? null, fixed(2)),
      flagsOf(s),
    ];
  });
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const [header, kept] = dropCrossInstance(HEADER, body, HEADER.indexOf(CROSS_INSTANCE));
  const cluster = clusterLines(summaries, ratios).map((l) => `- ${l.trim()}`);
  const parity = parityLines(scenarios, summaries, ratios).map((l) => `- ${l.trim()}`);
  const lines = [
    `${machine.cpuModel} × ${machine.cores}, Linux ${machine.kernel}, Node ${machine.node}, commit ${machine.gitCommit.slice(0, 7)}; ${machine.pinning}.`,
    '',
    line(header),
    line(header.map(() => '---')),
    ...kept.map(line),
    '',
    ...(parity.length ? [PARITY_HEADING, '', ...parity, ''] : []),
    ...(cluster.length ? ['Cluster (x-inst: deliveries that crossed instances through Redis):', '', ...cluster, ''] : []),
    ...targets.map((t) => `- ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'}: ${t.name}: wanted ${t.wanted}; measured ${t.measured}${t.resolved ? '' : ' (noisy: rounds fall on both sides)'}`),
  ];
  return `${lines.join('\n')}\n`;
}
