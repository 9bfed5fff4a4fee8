// The self-contained HTML report: machine, targets, the table, and per-scenario charts.
import type { Machine } from '../machine.js';
import type { Scenario } from '../scenarios.js';
import type { PeerSummary, Ratio } from '../summary.js';
import type { Target } from '../targets.js';
import type { Trial } from '../trial.js';
import { count, micros } from './format.js';
import { escapeXml, latencyChart, throughputChart } from './svg.js';
import { PARITY_HEADING, parityLines } from './parity.js';
import { CROSS_INSTANCE, clusterLines, describe, dropCrossInstance, noiseLines, rows } from './table.js';

export interface HtmlInput {
  readonly trials: readonly Trial[];
  readonly title: string;
  readonly startedAt: string;
  readonly machine: Machine;
  readonly notes: readonly string[];
  readonly scenarios: readonly Scenario[];
  readonly summaries: readonly PeerSummary[];
  readonly ratios: readonly Ratio[];
  readonly targets: readonly Target[];
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:nth-child(-n+2),th{text-align:left}.flag{color:#b00}.met{color:#070}.miss{color:#b00}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}h2{margin-top:28px}code{background:#f4f4f4;padding:0 3px}`;

const HEADER = ['scenario', 'peer', 'deliveries/s', 'p50', 'p90', 'p99', 'p99.9', 'max', CROSS_INSTANCE, 'lost/dup/ooo', 'server µs/delivery', 'server CPU %', 'KiB/conn', 'client CPU %', 'other CPU %', 'relay ×', 'cpu ×', 'flags'];

const TRIAL_HEADER = ['scenario', 'peer', 'round', 'deliveries/s', 'p50', 'p99', 'max', CROSS_INSTANCE, 'lost/dup/ooo/bad', 'server CPU %', 'client CPU %', 'other CPU %', 'RSS baseline → idle (MiB)', 'KiB/conn', 'error'];

function trialRow(t: Trial): string[] {
  const opt = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));
  return [
    t.scenario,
    t.peer,
    String(t.round + 1),
    count(t.deliveriesPerS),
    micros(t.latencyUs.p50),
    micros(t.latencyUs.p99),
    micros(t.latencyUs.max),
    t.remoteLatencyUs ? `${micros(t.remoteLatencyUs.p50)} / ${micros(t.remoteLatencyUs.p99)}` : '-',
    `${t.lost}/${t.duplicated}/${t.outOfOrder}/${t.malformed}${t.backplaneDropped ? `, backplane dropped ${t.backplaneDropped}` : ''}`,
    opt(t.serverCpuPct, 0),
    t.clientCpuPct.toFixed(0),
    opt(t.otherCpuPct, 0),
    t.baselineRssKiB === null || t.idleRssKiB === null ? '-' : `${(t.baselineRssKiB / 1024).toFixed(1)} → ${(t.idleRssKiB / 1024).toFixed(1)}`,
    opt(t.kibPerConnection, 2),
    t.error ?? '',
  ];
}

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const head = `<tr>${header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>`;
  const trs = body.map((r) => `<tr>${r.map((c, i) => `<td${i === r.length - 1 && c ? ' class="flag"' : ''}>${escapeXml(c)}</td>`).join('')}</tr>`);
  return `<table>${head}${trs.join('')}</table>`;
}

export function renderHtml(input: HtmlInput): string {
  const m = input.machine;
  const machineRows: [string, string][] = [
    ['CPU', `${m.cpuModel} × ${m.cores}`],
    ['kernel', m.kernel],
    ['Node', m.node],
    ['git commit', `${m.gitCommit}${m.gitDirty ? ' (with uncommitted changes)' : ''}`],
    ['relay build (dist/cli.js)', m.relayBuiltAt ?? 'none'],
    ['pinning', m.pinning],
  ];
  const targets = input.targets.map((t) => {
    const verdict = t.met === null ? '<span>n/a</span>' : t.met ? '<span class="met">met</span>' : '<span class="miss">missed</span>';
    const noisy = t.resolved ? '' : ' <span class="miss">(noisy: rounds fall on both sides)</span>';
    return `<li>${verdict} <b>${escapeXml(t.name)}</b>: wanted ${escapeXml(t.wanted)}; measured ${escapeXml(t.measured)}${noisy}</li>`;
  });
  const charts = input.scenarios.map((s) => {
    const peers = input.summaries.filter((p) => p.scenario === s.name);
    // a cluster's cross-instance deliveries get their own line in the latency chart
    const crossing = peers.flatMap((p) => (p.remote ? [{ ...p, ...p.remote, peer: `${p.peer} x-inst` }] : []));
    return `<h3>${escapeXml(s.name)}</h3><p>${escapeXml(describe(s))}</p><div class="charts">${throughputChart('deliveries/s (median, min–max)', peers)}${latencyChart('latency by percentile (median)', [...peers, ...crossing])}</div>`;
  });
  const noise = noiseLines(input.summaries, input.scenarios);
  const cluster = clusterLines(input.summaries, input.ratios);
  const parity = parityLines(input.scenarios, input.summaries, input.ratios);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(input.title)}</title><style>${STYLE}</style></head><body>
<h1>${escapeXml(input.title)}</h1>
<p>Run started ${escapeXml(input.startedAt)}.</p>
${table(['machine', ''], machineRows)}
${input.notes.length ? `<ul>${input.notes.map((n) => `<li>${escapeXml(n)}</li>`).join('')}</ul>` : ''}
${targets.length ? `<h2>Targets (reported, not asserted)</h2><ul>${targets.join('')}</ul>` : ''}
<h2>Results</h2>
<p>Medians over repeats, [min–max] when they differ. <code>relay ×</code> is relay deliveries/s divided by the peer's, paired within each round;
<code>cpu ×</code> is the peer's server CPU per delivery divided by the relay's (above 1: the relay is cheaper), which moves much less than deliveries/s when the machine is busy.
Fixed-rate latency is measured from the intended send time, so a stalled server cannot hide its delay.
CPU % is of one core; <i>other CPU %</i> is what other processes used meanwhile: high values (flag BUSY-MACHINE) mean the run competed for CPU.</p>
${table(...dropCrossInstance(HEADER, rows(input.summaries, input.ratios, true)))}
${parity.length ? `<p>${escapeXml(PARITY_HEADING)}</p><ul>${parity.map((l) => `<li>${escapeXml(l.trim())}</li>`).join('')}</ul>` : ''}
${cluster.length ? `<p>Cluster: <i>x-inst</i> is the latency of the deliveries that crossed instances through Redis, beside the single-process relay in the same scenario.</p><ul>${cluster.map((l) => `<li>${escapeXml(l.trim())}</li>`).join('')}</ul>` : ''}
${noise.length ? `<p>Noise, the spread of the same peer over rounds (differences inside it are not results):</p><ul>${noise.map((l) => `<li>${escapeXml(l.trim())}</li>`).join('')}</ul>` : ''}
<h2>Charts</h2>
${charts.join('\n')}
<h2>Every trial</h2>
<details><summary>${input.trials.length} trials in run order (the JSON has every field)</summary>
${table(TRIAL_HEADER, input.trials.map(trialRow))}
</details>
</body></html>
`;
}
