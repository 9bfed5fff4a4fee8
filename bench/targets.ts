// The targets, reported with what was measured; never asserted (timing on a shared machine
// is data, not a test).
import type { Scenario } from './scenarios.js';
import type { PeerSummary, Ratio, RelayOver, Spread } from './summary.js';

export interface Target {
  readonly name: string;
  readonly wanted: string;
  /** what this run measured, or why it could not */
  readonly measured: string;
  /** null when the run did not include what the target needs */
  readonly met: boolean | null;
  /** false when some rounds fall on each side of the target: the verdict is inside the noise */
  readonly resolved: boolean;
}

const fmt = (v: number, digits = 2): string => v.toFixed(digits);

/** Rounds on both sides of `threshold` mean this run cannot say which side the truth is on. */
const straddles = (s: Spread | null | undefined, threshold: number): boolean => !!s && s.min < threshold && s.max >= threshold;

export function evaluateTargets(scenarios: readonly Scenario[], summaries: readonly PeerSummary[], ratios: readonly Ratio[]): Target[] {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const ratio = (scenario: string, peer: string): Ratio | undefined => ratios.find((r) => r.scenario === scenario && r.peer === peer);
  const targets: Target[] = [];

  // ratios are relay ÷ peer, so relay's share of uws-raw is the ratio itself
  const vsRaw = ratio('max-1k-1p-64b', 'uws-raw');
  const ceiling = vsRaw?.throughput;
  const cpu = vsRaw?.cpuPerDelivery;
  const cpuNote = cpu ? `; server CPU per delivery: relay's is ${fmt(100 / cpu.median, 1)}% of uws-raw's (rounds: ${fmt(100 / cpu.max, 1)}–${fmt(100 / cpu.min, 1)}%)` : '';
  // On two cores the load generator is near its limit at 1,000 subscribers; 5,000 is the steadier reading.
  const at5k = ratio('max-5k-1p-64b', 'uws-raw')?.throughput;
  const note5k = at5k ? `; at 5,000 subscribers: ${fmt(100 * at5k.median, 1)}% (rounds: ${fmt(100 * at5k.min, 1)}–${fmt(100 * at5k.max, 1)}%)` : '';
  targets.push({
    name: 'relay vs uws-raw, max rate, 1,000 subscribers, 64 B',
    wanted: '>= 95% of uws-raw deliveries/s',
    measured: ceiling
      ? `${fmt(100 * ceiling.median, 1)}% of uws-raw deliveries/s (rounds: ${fmt(100 * ceiling.min, 1)}–${fmt(100 * ceiling.max, 1)}%)${cpuNote}${note5k}`
      : 'not run (needs max-1k-1p-64b with relay and uws-raw)',
    met: ceiling ? ceiling.median >= 0.95 : null,
    resolved: !straddles(ceiling, 0.95),
  });

  const bigMax = scenarios.filter((s) => s.mode === 'max' && (s.subscribers === 1000 || s.subscribers === 5000)).map((s) => s.name);
  for (const peer of ['ws', 'gorilla']) {
    const found = bigMax.map((name) => ({ name, r: ratio(name, peer)?.throughput })).filter((x) => x.r);
    targets.push({
      name: `relay vs ${peer}, max rate, 1,000 and 5,000 subscribers`,
      wanted: `>= 5x ${peer} deliveries/s in every such scenario`,
      measured: found.length ? found.map((x) => `${x.name}: ${fmt(x.r?.median ?? 0)}x`).join(', ') : `not run (needs a max scenario at 1k/5k with relay and ${peer})`,
      met: found.length ? found.every((x) => (x.r?.median ?? 0) >= 5) : null,
      resolved: !found.some((x) => straddles(x.r, 5)),
    });
  }

  const fixed = scenarios.filter((s) => s.mode === 'fixed').map((s) => s.name);
  for (const peer of ['ws', 'gorilla']) {
    const found = fixed.map((name) => ({ name, r: ratio(name, peer)?.p99 })).filter((x) => x.r);
    targets.push({
      name: `relay p99 vs ${peer}, fixed rate`,
      wanted: `lower p99 than ${peer} in every fixed-rate scenario`,
      measured: found.length ? found.map((x) => `${x.name}: ${peer} p99 = ${fmt(x.r?.median ?? 0)}x relay's`).join(', ') : `not run (needs a fixed scenario with relay and ${peer})`,
      met: found.length ? found.every((x) => (x.r?.median ?? 0) > 1) : null,
      resolved: !found.some((x) => straddles(x.r, 1)),
    });
  }

  const memory = summaries.find((s) => s.peer === 'relay' && byName.get(s.scenario)?.subscribers === 5000 && s.kibPerConnection);
  targets.push({
    name: 'relay memory at 5,000 idle connections',
    wanted: '< 2 KiB per connection above baseline RSS',
    measured: memory?.kibPerConnection
      ? `${fmt(memory.kibPerConnection.median)} KiB/conn (${fmt(memory.kibPerConnection.min)}–${fmt(memory.kibPerConnection.max)}, ${memory.scenario})`
      : 'not run (needs a 5,000-subscriber scenario with relay)',
    met: memory?.kibPerConnection ? memory.kibPerConnection.median < 2 : null,
    resolved: !straddles(memory?.kibPerConnection, 2),
  });
  targets.push(...parityTargets(scenarios, ratio));
  return targets;
}

/** relay ÷ uws-raw limits from the parity scenarios; reported only when the scenario was in the run. */
const PARITY_TARGETS: readonly { scenario: string; name: string; pick: (r: RelayOver) => Spread | null; limit: number; what: string }[] = [
  { scenario: 'scale-18k', name: 'relay RSS with 18,000 idle connections', pick: (r) => r.idleRss, limit: 1.2, what: 'idle RSS' },
  { scenario: 'chat-1k', name: 'relay max latency, 1,000 clients all publishing', pick: (r) => r.max, limit: 1.2, what: 'max latency' },
  { scenario: 'chat-1k', name: 'relay p99, 1,000 clients all publishing', pick: (r) => r.p99, limit: 1.1, what: 'p99' },
];

function parityTargets(scenarios: readonly Scenario[], ratio: (scenario: string, peer: string) => Ratio | undefined): Target[] {
  return PARITY_TARGETS.filter((t) => scenarios.some((s) => s.name === t.scenario)).map((t) => {
    const found = ratio(t.scenario, 'uws-raw');
    const value = found ? t.pick(found.relayOver) : null;
    return {
      name: `${t.name} (${t.scenario})`,
      wanted: `<= ${t.limit}x uws-raw's ${t.what}, paired within rounds`,
      measured: value ? `${fmt(value.median)}x (rounds: ${fmt(value.min)}–${fmt(value.max)})` : `not run (needs ${t.scenario} with relay and uws-raw)`,
      met: value ? value.median <= t.limit : null,
      resolved: !(value && value.min <= t.limit && value.max > t.limit),
    };
  });
}
