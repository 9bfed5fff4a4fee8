// The bench's pure parts: scenario data, statistics, pairing of ratios, and the report's shape.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PEERS, QUICK_PEERS, peerNamesFor } from '../../bench/peers/catalog.js';
import { sumSeries } from '../../bench/peers/scrape.js';
import { checkFiles, checkTrials } from '../../bench/quick-checks.js';
import { renderMarkdown } from '../../bench/report/markdown.js';
import { latencyChart, throughputChart } from '../../bench/report/svg.js';
import { clusterLines, flags, renderReport } from '../../bench/report/table.js';
import { CLUSTER, DEFAULT_SUITE, GRID, QUICK, selectScenarios } from '../../bench/scenarios.js';
import { rotate } from '../../bench/suite.js';
import { ratios, spread, summarize, summarizeRemote } from '../../bench/summary.js';
import { evaluateTargets } from '../../bench/targets.js';
import type { Trial } from '../../bench/trial.js';
import { trial } from './trials.js';


describe('scenarios', () => {
  it('covers the whole grid with unique names', () => {
    expect(GRID).toHaveLength(3 * 2 * 3 * 2);
    expect(new Set([...GRID, ...CLUSTER, ...QUICK].map((s) => s.name)).size).toBe(GRID.length + CLUSTER.length + QUICK.length);
  });

  it('resolves the default suite and rejects unknown names', () => {
    expect(selectScenarios('default').map((s) => s.name)).toEqual(DEFAULT_SUITE);
    expect(() => selectScenarios('max-1k-1p-64b,nope')).toThrow(/unknown scenario "nope"/);
  });

  it('keeps max-mode backlog per subscriber under the relay default of 1 MiB', () => {
    for (const s of GRID.filter((g) => g.mode === 'max')) expect(s.inflight * (s.payloadBytes + 14)).toBeLessThan(1024 * 1024);
  });
});

describe('statistics', () => {
  it('takes the median of an even count as the mean of the middle two', () => {
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(spread([])).toBeNull();
  });

  it('pairs ratios within a round, not across rounds', () => {
    const trials = [trial('relay', 0, 1000, 10), trial('ws', 0, 100, 40), trial('relay', 1, 2000, 10), trial('ws', 1, 1000, 20)];
    const [r] = ratios(trials);
    // paired: 1000/100 = 10 and 2000/1000 = 2; unpaired medians would give 1500/550
    expect(r?.throughput).toEqual({ median: 6, min: 2, max: 10, n: 2 });
    expect(r?.p99?.median).toBe(3);
    expect(r?.cpuPerDelivery?.median).toBe(1);
  });

  it('leaves failed trials out of medians but counts every lost message', () => {
    const trials = [trial('relay', 0, 1000, 10), trial('relay', 1, 0, 0, { ok: false, error: 'boom', lost: 3 })];
    const [s] = summarize(trials);
    expect(s?.deliveriesPerS?.n).toBe(1);
    expect(s?.failed).toBe(1);
    expect(s?.lost).toBe(3);
    expect(s?.errors).toEqual(['boom']);
  });

  it('rotates the peer order by round', () => {
    expect(rotate(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotate(['a', 'b', 'c'], 3)).toEqual(['a', 'b', 'c']);
  });
});

describe('quick checks', () => {
  it('fails a trial that lost or reordered a message', () => {
    expect(checkTrials([trial('relay', 0, 1, 1)])).toEqual([]);
    expect(checkTrials([trial('relay', 0, 1, 1, { outOfOrder: 1 })])[0]).toMatch(/out of order 1/);
    expect(checkTrials([trial('relay', 0, 1, 1, { delivered: 99 })])[0]).toMatch(/delivered 99 of 100/);
    expect(checkTrials([])).not.toEqual([]);
  });

  it('accepts a self-contained report and rejects one with an external script', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-'));
    const json = path.join(dir, 'r.json');
    const html = path.join(dir, 'r.html');
    writeFileSync(json, JSON.stringify({ machine: {}, trials: [1] }));
    const summaries = summarize([trial('relay', 0, 1000, 10)]);
    writeFileSync(html, `<!doctype html><html><body>${throughputChart('t', summaries)}${latencyChart('l', summaries)}</body></html>`);
    expect(checkFiles(json, html, 1)).toEqual([]);
    writeFileSync(html, '<!doctype html><html><body><svg></svg><script src="https://cdn.example/x.js"></script></body></html>');
    expect(checkFiles(json, html, 1).join()).toMatch(/not self-contained/);
  });

  it('escapes peer names inside the charts', () => {
    const summaries = summarize([trial('<b>', 0, 1000, 10)]);
    expect(throughputChart('t', summaries)).not.toContain('<b>');
  });
});

describe('targets', () => {
  it('reads relay ÷ peer ratios the right way round', () => {
    const scenarios = selectScenarios('max-1k-1p-64b');
    const trials = [trial('relay', 0, 900, 10), trial('uws-raw', 0, 1000, 10), trial('ws', 0, 100, 50)].map((t) => ({ ...t, scenario: 'max-1k-1p-64b' }));
    const targets = evaluateTargets(scenarios, summarize(trials), ratios(trials));
    expect(targets[0]).toMatchObject({ measured: expect.stringMatching(/^90\.0%/), met: false, resolved: true });
    expect(targets[1]).toMatchObject({ measured: 'max-1k-1p-64b: 9.00x', met: true });
    expect(targets.find((t) => t.name.includes('gorilla'))?.met).toBeNull();
  });

  it('calls a verdict noisy when rounds fall on both sides of the target', () => {
    const scenarios = selectScenarios('max-1k-1p-64b');
    const trials = [trial('relay', 0, 850, 10), trial('uws-raw', 0, 1000, 10), trial('relay', 1, 1000, 10), trial('uws-raw', 1, 1000, 10)];
    const inScenario = trials.map((t) => ({ ...t, scenario: 'max-1k-1p-64b' }));
    const [first] = evaluateTargets(scenarios, summarize(inScenario), ratios(inScenario));
    expect(first).toMatchObject({ met: false, resolved: false });
  });
});

/** A relay-cluster trial: cross-instance deliveries at `remoteP99`, half of them. */
function clusterTrial(round: number, p99: number, remoteP99: number, extra: Partial<Trial> = {}): Trial {
  return trial('relay-cluster', round, 1000, p99, {
    remoteLatencyUs: { p50: remoteP99 / 2, p90: remoteP99 * 0.8, p99: remoteP99, p999: remoteP99 * 1.2, max: remoteP99 * 2 },
    remoteDeliveries: 50,
    remoteShare: 0.5,
    backplaneDropped: 0,
    ...extra,
  });
}

describe('cluster', () => {
  it('runs relay and relay-cluster side by side unless --peers says otherwise', () => {
    const [fixed] = selectScenarios('cluster');
    expect(selectScenarios('cluster').map((s) => s.name)).toEqual(CLUSTER.map((s) => s.name));
    expect(peerNamesFor(fixed ?? {}, undefined, false)).toEqual(['relay', 'relay-cluster']);
    expect(peerNamesFor(fixed ?? {}, 'relay-cluster', false)).toEqual(['relay-cluster']);
    expect(peerNamesFor(GRID[0] ?? {}, undefined, false)).toEqual(DEFAULT_PEERS);
    expect(peerNamesFor(QUICK[0] ?? {}, undefined, true)).toEqual(QUICK_PEERS);
    expect(() => peerNamesFor(GRID[0] ?? {}, 'relay,nope', false)).toThrow(/unknown peer "nope"/);
  });

  it('summarizes cross-instance latency over the ok trials that measured it', () => {
    expect(summarizeRemote([trial('relay', 0, 1000, 10)])).toBeNull();
    const remote = summarizeRemote([clusterTrial(0, 10, 20), clusterTrial(1, 10, 40), clusterTrial(2, 10, 999, { ok: false })]);
    expect(remote?.p99Us).toEqual({ median: 30, min: 20, max: 40, n: 2 });
    expect(remote?.p50Us?.median).toBe(15);
    expect(remote?.share?.median).toBe(0.5);
  });

  it('pairs the cross-instance p99 with the single relay of the same round', () => {
    const trials = [trial('relay', 0, 1000, 10), clusterTrial(0, 30, 40), trial('relay', 1, 1000, 20), clusterTrial(1, 30, 40)];
    const r = ratios(trials).find((x) => x.peer === 'relay-cluster');
    // 40/10 and 40/20 paired; unpaired medians would give 40/15
    expect(r?.remoteP99).toEqual({ median: 3, min: 2, max: 4, n: 2 });
    expect(ratios([trial('relay', 0, 1000, 10), trial('ws', 0, 100, 40)])[0]?.remoteP99).toBeNull();
  });

  it('counts backplane drops as a loss, in the flags and in the quick check', () => {
    const [summary] = summarize([clusterTrial(0, 10, 20, { backplaneDropped: 3 }), clusterTrial(1, 10, 20, { backplaneDropped: 4 })]);
    expect(summary?.backplaneDropped).toBe(7);
    expect(summary && flags(summary)).toBe('LOSS BACKPLANE-DROPPED 7');
    expect(summarize([trial('relay', 0, 1, 1)])[0]?.backplaneDropped).toBeNull();
    expect(checkTrials([clusterTrial(0, 10, 20, { backplaneDropped: 1 })]).join()).toMatch(/1 backplane drops/);
    expect(checkTrials([clusterTrial(0, 10, 20, { remoteDeliveries: 0 })]).join()).toMatch(/no delivery crossed instances/);
    expect(checkTrials([clusterTrial(0, 10, 20)])).toEqual([]);
  });

  it('shows the cross-instance column and line only when a cluster ran', () => {
    const scenarios = selectScenarios('cluster-fixed-1k-10p-1kib');
    const single = [trial('relay', 0, 1000, 100)].map((t) => ({ ...t, scenario: 'cluster-fixed-1k-10p-1kib' }));
    const both = [...single, { ...clusterTrial(0, 300, 400), scenario: 'cluster-fixed-1k-10p-1kib' }];
    expect(renderReport(scenarios, summarize(single), ratios(single), [])).not.toContain('x-inst');
    const report = renderReport(scenarios, summarize(both), ratios(both), []);
    expect(report).toContain('x-inst p50/p99');
    expect(report).toMatch(/200µs \/ 400µs/);
    const [line] = clusterLines(summarize(both), ratios(both));
    expect(line).toContain('cross-instance p50 200µs, p99 400µs (50% of deliveries)');
    expect(line).toContain('relay (one process) p50 50.0µs, p99 100µs');
    expect(line).toContain('cross-instance p99 ÷ relay p99 = 4.00');
    expect(line).toContain('backplane dropped 0');
    const machine = { cpuModel: 'cpu', cores: 2, memoryMiB: 1, kernel: 'k', node: 'v20', gitCommit: 'abcdef0', gitDirty: false, relayBuiltAt: null, pinning: 'p' };
    const md = renderMarkdown(machine, summarize(both), ratios(both), [], flags);
    const header = md.split('\n').find((l) => l.startsWith('| scenario'));
    const row = md.split('\n').find((l) => l.includes('| relay-cluster |'));
    expect(header?.split('|').length).toBe(row?.split('|').length);
    expect(md).toContain('- cluster-fixed-1k-10p-1kib: relay-cluster cross-instance');
  });
});

describe('metrics scrape', () => {
  it('sums every label set of one series and nothing else', () => {
    const text = [
      '# HELP relay_backplane_dropped_total Cross-instance messages lost',
      '# TYPE relay_backplane_dropped_total counter',
      'relay_backplane_dropped_total{reason="disconnected"} 2',
      'relay_backplane_dropped_total{reason="backpressure"} 0',
      'relay_backplane_dropped_total{reason="error"} 3 1700000000000',
      'relay_backplane_dropped_total_created 1700000000',
      'relay_backplane_dropped_totals 100',
      'other_total 7',
    ].join('\n');
    expect(sumSeries(text, 'relay_backplane_dropped_total')).toBe(5);
    expect(sumSeries('plain_total 4 1700000000000\n', 'plain_total')).toBe(4);
    expect(sumSeries('', 'relay_backplane_dropped_total')).toBe(0);
  });
});
