// The parity scenarios' pure parts: scenario groups, load generator arguments, the relay ÷ uws-raw line, RSS
// during traffic, and the parity targets.
import { describe, expect, it } from 'vitest';
import { loadgenArgs } from '../../bench/loadgen/client.js';
import { parityLines } from '../../bench/report/parity.js';
import { QUICK, SCALE_MAX_CONNECTIONS, SOAK, USERS, selectScenarios } from '../../bench/scenarios.js';
import type { Scenario } from '../../bench/scenarios.js';
import { ratios, summarize } from '../../bench/summary.js';
import { evaluateTargets } from '../../bench/targets.js';
import { trafficRssOf } from '../../bench/trial.js';
import type { Trial } from '../../bench/trial.js';
import { trial as baseTrial } from './trials.js';

/** A trial of `scenario` with 1,000 connections opened in 100 ms and 60 MB of idle RSS. */
function trial(scenario: string, peer: string, round: number, extra: Partial<Trial> = {}): Trial {
  return baseTrial(peer, round, 1000, 200, { scenario, baselineRssKiB: 40_000, idleRssKiB: 60_000, connections: 1000, connectMs: 100, ...extra });
}

const byName = (name: string): Scenario => {
  const found = [...USERS, ...SOAK, ...QUICK].find((s) => s.name === name);
  if (!found) throw new Error(name);
  return found;
};

describe('parity scenarios', () => {
  it('compare the relay with bare uWS and stay out of the default suite', () => {
    for (const s of [...USERS, ...SOAK]) expect(s.peers).toEqual(['relay', 'uws-raw']);
    expect(selectScenarios('default').some((s) => USERS.includes(s))).toBe(false);
    expect(selectScenarios('users')).toEqual(USERS);
    expect(selectScenarios('rooms').map((s) => s.name)).toEqual(['rooms-500x10-fixed', 'rooms-500x10-max']);
    expect(selectScenarios('scale').map((s) => s.subscribers)).toEqual([10_000, 18_000, SCALE_MAX_CONNECTIONS]);
    expect(() => selectScenarios('constructor')).toThrow(/unknown scenario/);
    expect(selectScenarios('tls').every((s) => s.peers?.join() === 'relay,relay-tls,uws-raw-tls')).toBe(true);
  });

  it('keep one publisher per room and every chat client publishing', () => {
    const rooms = byName('rooms-500x10-fixed');
    expect(rooms.subscribers / (rooms.rooms ?? 0)).toBe(10);
    expect(rooms.publishers).toBe(rooms.rooms);
    const chat = byName('chat-1k');
    expect(chat.publishers).toBe(chat.subscribers);
    // at least one message per publisher within warm-up + measure, or sends would run past the window
    expect(chat.rateMsgsPerS * (chat.warmupS + chat.measureS)).toBeGreaterThanOrEqual(chat.publishers);
  });

  it('pass rooms and source addresses to the load generator, with every publisher on its first thread', () => {
    const run = { binary: 'lg', urls: ['ws://127.0.0.1:1/'], threads: 4, cpus: null, onConnected: () => Promise.resolve() };
    const roomsArgs = loadgenArgs({ ...run, scenario: byName('rooms-500x10-fixed') });
    expect(roomsArgs.join(' ')).toMatch(/--rooms 500 --sources 2/);
    // 1,000 publishers among 1,000 connections fit only on one thread
    const chatArgs = loadgenArgs({ ...run, scenario: byName('chat-1k') });
    expect(chatArgs[chatArgs.indexOf('--threads') + 1]).toBe('1');
    expect(chatArgs).not.toContain('--rooms');
    const scale = loadgenArgs({ ...run, scenario: byName('scale-10k') });
    expect(scale[scale.indexOf('--threads') + 1]).toBe('4');
  });
});

describe('RSS during traffic', () => {
  it('drifts from the first sample after warm-up to the last', () => {
    const samples = [
      { atS: 0.5, kiB: 100 },
      { atS: 1.5, kiB: 120 },
      { atS: 2.5, kiB: 180 },
      { atS: 3.1, kiB: 150 },
    ];
    expect(trafficRssOf(samples, 1)).toEqual({ first: 120, peak: 180, last: 150 });
    expect(trafficRssOf([], 1)).toBeNull();
    const [relay] = summarize([trial('soak-1k-2m', 'relay', 0, { trafficRssKiB: { first: 120, peak: 180, last: 150 } })]);
    expect(relay?.rssDriftKiB?.median).toBe(30);
    expect(relay?.rssPeakKiB?.median).toBe(180);
    expect(relay?.acceptPerS?.median).toBe(10_000);
  });
});

describe('relay ÷ uws-raw', () => {
  const trials = [
    trial('chat-1k', 'relay', 0, { latencyUs: { p50: 1, p90: 1, p99: 220, p999: 1, max: 600 }, idleRssKiB: 72_000, connectMs: 110 }),
    trial('chat-1k', 'uws-raw', 0, { idleRssKiB: 60_000 }),
    trial('chat-1k', 'relay', 1, { latencyUs: { p50: 1, p90: 1, p99: 200, p999: 1, max: 400 }, idleRssKiB: 66_000 }),
    trial('chat-1k', 'uws-raw', 1, { idleRssKiB: 60_000 }),
  ];

  it('reads every ratio as relay ÷ uws-raw, paired within rounds', () => {
    const [line] = parityLines([byName('chat-1k')], summarize(trials), ratios(trials));
    expect(line).toContain('chat-1k: p99 1.05 [1.00–1.10]');
    expect(line).toContain('max 1.25 [1.00–1.50] (500µs vs 400µs)');
    expect(line).toContain('idle RSS 1.15 [1.10–1.20] (67.4 MB vs 58.6 MB)');
    expect(line).not.toContain('RSS drift');
    expect(parityLines([], summarize(trials.filter((t) => t.peer === 'relay')), [])).toEqual([]);
  });

  it('reports the parity targets only for the scenarios that ran', () => {
    const chat = evaluateTargets([byName('chat-1k')], summarize(trials), ratios(trials));
    const max = chat.find((t) => t.name.startsWith('relay max latency'));
    expect(max).toMatchObject({ met: false, resolved: false, measured: expect.stringMatching(/^1\.25x/) });
    expect(chat.find((t) => t.name.startsWith('relay p99, 1,000'))).toMatchObject({ met: true, resolved: true });
    expect(chat.some((t) => t.name.includes('18,000'))).toBe(false);
  });
});
