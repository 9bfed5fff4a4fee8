// The slow-consumer table (terminal and Markdown alike): one row per scenario, peer and round.
import type { HeldOutcome, SlowRun } from './trial.js';

const HEAD = [
  'scenario',
  'peer',
  'round',
  'healthy lost',
  'healthy p50 ms',
  'p99 ms',
  'max ms',
  'healthy cut',
  'peak RSS MiB',
  'server CPU s',
  'stalled all cut s',
  'stalled clients saw',
];

export function renderSlowTable(runs: readonly SlowRun[]): string {
  const rows = runs.map((r) =>
    r.error !== null
      ? [r.scenario, r.peer, String(r.round + 1), `FAILED: ${r.error.split('\n')[0]}`, '', '', '', '', '', '', '', '']
      : [
          r.scenario,
          r.peer,
          String(r.round + 1),
          `${r.lost} / ${r.expected}`,
          String(r.latencyMs?.p50 ?? '-'),
          String(r.latencyMs?.p99 ?? '-'),
          String(r.latencyMs?.max ?? '-'),
          String(r.healthyClosed),
          `${r.peakRssMiB} (from ${r.baselineRssMiB})`,
          String(r.serverCpuS),
          r.allCutS === null ? 'never' : String(r.allCutS),
          r.held === null ? '-' : describeHeld(r.held),
        ],
  );
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(HEAD), line(HEAD.map(() => '---')), ...rows.map(line)].join('\n');
}

/** e.g. "4008 ×1000", "no close frame ×980, open ×20". */
export function describeHeld(h: HeldOutcome): string {
  const parts = Object.entries(h.close_frames).map(([code, n]) => `${code} ×${n}`);
  if (h.closed_without_frame) parts.push(`no close frame ×${h.closed_without_frame}${h.reset ? ` (${h.reset} reset)` : ''}`);
  if (h.still_open) parts.push(`open ×${h.still_open}`);
  return parts.join(', ') || '-';
}
