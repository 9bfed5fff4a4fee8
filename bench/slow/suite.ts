// Runs the slow-consumer scenarios: scenario × round × peer, the peer order rotated each round like the main suite.
import path from 'node:path';
import type { CpuPlan } from '../cpus.js';
import { DEFAULT_PEERS, selectPeers } from '../peers/catalog.js';
import type { Peer, RelayVariant } from '../peers/types.js';
import type { SlowScenario } from '../scenarios.js';
import { rotate } from '../suite.js';
import { runSlowTrial, type SlowRun } from './trial.js';

export interface SlowPlan {
  readonly scenarios: readonly SlowScenario[];
  /** --peers when given; else each scenario's own, else relay, uws-raw, ws, gorilla */
  readonly peers: string | undefined;
  readonly repeat: number;
  readonly cpus: CpuPlan;
  readonly relay?: RelayVariant;
  /** --cpu-prof: where each Node server run writes its V8 CPU profile; null for none */
  readonly profileDir: string | null;
  readonly log: (line: string) => void;
}

export async function runSlowSuite(plan: SlowPlan): Promise<{ runs: SlowRun[]; notes: string[] }> {
  const runs: SlowRun[] = [];
  const notes: string[] = [];
  const skipped = new Set<string>();
  for (const scenario of plan.scenarios) {
    const available: Peer[] = [];
    for (const peer of selectPeers(plan.peers ?? (scenario.peers ?? DEFAULT_PEERS).join(','))) {
      const why = await peer.unavailable();
      if (why === null) available.push(peer);
      else if (!skipped.has(peer.name)) {
        skipped.add(peer.name);
        notes.push(`${peer.name} not run in the slow-consumer scenarios: ${why}`);
      }
    }
    for (let round = 0; round < plan.repeat; round++) {
      for (const peer of rotate(available, round)) {
        const run = await runSlowTrial({
          scenario,
          peer,
          round,
          cpus: plan.cpus.server,
          profileDir: plan.profileDir === null ? null : path.join(plan.profileDir, `${scenario.name}-${peer.name}-r${round + 1}`),
          clockTicks: plan.cpus.clockTicks,
          ...(plan.relay ? { relay: plan.relay } : {}),
        });
        runs.push(run);
        plan.log(`${scenario.name} round ${round + 1} ${peer.name}: ${progress(run)}`);
      }
    }
  }
  return { runs, notes };
}

function progress(r: SlowRun): string {
  if (r.error !== null) return `FAILED: ${r.error}`;
  return `healthy lost ${r.lost}/${r.expected}, p99 ${r.latencyMs?.p99 ?? '-'} ms, peak RSS ${r.peakRssMiB} MiB, all cut ${r.allCutS ?? '-'} s`;
}

/** --quick: the harness ran every peer and every held connection opened; says nothing about timing. */
export function checkSlowRuns(scenarios: readonly SlowScenario[], runs: readonly SlowRun[]): string[] {
  const problems: string[] = [];
  for (const r of runs) {
    const where = `${r.scenario} / ${r.peer}`;
    const s = scenarios.find((x) => x.name === r.scenario);
    if (r.error !== null) problems.push(`${where}: ${r.error}`);
    else if (r.held?.opened !== s?.stalled) problems.push(`${where}: ${r.held?.opened ?? 0} of ${s?.stalled} held connections opened`);
    else if (r.expected === 0 || r.latencyMs === null) problems.push(`${where}: the healthy readers got nothing`);
  }
  return problems;
}
