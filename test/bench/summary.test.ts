// The bench's pure parts: scenario data, statistics, pairing of ratios, and the report's shape.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFiles, checkTrials } from '../../bench/quick-checks.js';
import { latencyChart, throughputChart } from '../../bench/report/svg.js';
import { DEFAULT_SUITE, GRID, QUICK, selectScenarios } from '../../bench/scenarios.js';
import { rotate } from '../../bench/suite.js';
import { ratios, spread, summarize } from '../../bench/summary.js';
import { evaluateTargets } from '../../bench/targets.js';
import type { Trial } from '../../bench/trial.js';

function trial(peer: string, round: number, deliveriesPerS: number, p99: number, extra: Partial<Trial> = {}): Trial {
  return {
    scenario: 's',
    peer,
    round,
    position: 0,
    ok: true,
    error: null,
    deliveriesPerS,
    latencyUs: { p50: p99 / 2, p90: p99 * 0.8, p99, p999: p99 * 1.2, max: p99 * 2 },
    sent: 10,
    expected: 100,
    delivered: 100,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    malformed: 0,
    disconnects: 0,
    serverCpuUsPerDelivery: 1,
    serverCpuPct: 50,
    baselineRssKiB: 1000,
    idleRssKiB: 1100,
    kibPerConnection: 1,
    clientCpuPct: 10,
    otherCpuPct: 0,
    interruptCpuPct: 0,
    stealCpuPct: 0,
    clientThreads: 1,
    loadgenSaturated: false,
    stalled: false,
    connectMs: 1,
    ...extra,
  };
}

describe('scenarios', () => {
  it('covers the whole grid with unique names', () => {
    expect(GRID).toHaveLength(3 * 2 * 3 * 2);
    expect(new Set([...GRID, ...QUICK].map((s) => s.name)).size).toBe(GRID.length + QUICK.length);
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
