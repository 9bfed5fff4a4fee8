// Runs every scenario × peer × round, rotating the peer order each round so slow drift on a shared
// machine shows up as spread rather than as a false ratio.
import path from 'node:path';
import type { CpuPlan } from './cpus.js';
import type { Peer, RelayVariant } from './peers/types.js';
import { count, micros } from './report/format.js';
import type { Scenario } from './scenarios.js';
import { runTrial } from './trial.js';
import type { Trial } from './trial.js';

export interface SuitePlan {
  readonly scenarios: readonly Scenario[];
  /** the peers each scenario runs (a cluster scenario names its own) */
  readonly peersFor: (scenario: Scenario) => readonly Peer[];
  readonly repeat: number;
  readonly loadgen: string;
  readonly cpus: CpuPlan;
  /** where Node servers write CPU profiles, or null for none */
  readonly profileDir: string | null;
  /** node flags and environment for the relay processes, when measuring a setting */
  readonly relay?: RelayVariant;
  /** progress lines; the report itself is printed by the caller */
  readonly log: (line: string) => void;
}

export function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export async function runSuite(plan: SuitePlan): Promise<Trial[]> {
  const trials: Trial[] = [];
  const total = plan.scenarios.reduce((n, s) => n + plan.repeat * plan.peersFor(s).length, 0);
  for (const scenario of plan.scenarios) {
    for (let round = 0; round < plan.repeat; round++) {
      const order = rotate(plan.peersFor(scenario), round);
      for (const [position, peer] of order.entries()) {
        const profileDir = plan.profileDir === null ? null : path.join(plan.profileDir, `${scenario.name}-${peer.name}-r${round + 1}`);
        const trial = await runTrial({ scenario, peer, round, position, loadgen: plan.loadgen, cpus: plan.cpus, profileDir, ...(plan.relay ? { relay: plan.relay } : {}) });
        trials.push(trial);
        plan.log(`[${trials.length}/${total}] ${scenario.name} round ${round + 1} ${peer.name}: ${progress(trial)}`);
      }
    }
  }
  return trials;
}

function progress(t: Trial): string {
  if (!t.ok && t.delivered === 0) return `FAILED: ${t.error ?? 'unknown'}`;
  const loss = t.lost || t.duplicated || t.outOfOrder || t.malformed ? ` lost ${t.lost} dup ${t.duplicated} ooo ${t.outOfOrder} bad ${t.malformed}` : '';
  const sat = t.loadgenSaturated ? ' (load generator saturated)' : '';
  const err = t.ok ? '' : ` FAILED: ${t.error ?? ''}`;
  return `${count(t.deliveriesPerS)} deliveries/s, p99 ${micros(t.latencyUs.p99)}, client CPU ${t.clientCpuPct.toFixed(0)}%${loss}${sat}${err}`;
}
