// The relay against bare uWS, one line per scenario that ran both: every ratio is relay ÷ uws-raw, paired
// within rounds (above 1, the relay needed more), so the overhead of everything the relay adds reads directly.
import type { Scenario } from '../scenarios.js';
import type { PeerSummary, Ratio, Spread } from '../summary.js';
import { count, fixed, micros, withSpread } from './format.js';

export const BARE = 'uws-raw';

const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MB`;

function parityLine(scenario: Scenario | undefined, relay: PeerSummary, bare: PeerSummary, ratio: Ratio): string {
  const r = (label: string, s: Spread | null, extra = ''): string | null => (s ? `${label} ${withSpread(s, fixed(2))}${extra}` : null);
  const both = (f: (p: PeerSummary) => Spread | null, show: (v: number) => string): string => {
    const a = f(relay);
    const b = f(bare);
    return a && b ? ` (${show(a.median)} vs ${show(b.median)})` : '';
  };
  const over = ratio.relayOver;
  const perConn = relay.kibPerConnection && bare.kibPerConnection && bare.kibPerConnection.median > 0 ? relay.kibPerConnection.median / bare.kibPerConnection.median : null;
  const parts = [
    r('p99', over.p99),
    r('max', over.max, both((p) => p.maxUs, micros)),
    r('CPU/delivery', over.cpuPerDelivery),
    r('idle RSS', over.idleRss, both((p) => p.idleRssKiB, mib)),
    // medians of each peer, not paired: the slope is too noisy per round to pair
    perConn === null ? null : `KiB/conn ${perConn.toFixed(2)}${both((p) => p.kibPerConnection, fixed(2))}`,
    r('connect time', over.connect, both((p) => p.acceptPerS, (v) => `${count(v)}/s`)),
  ].filter((p): p is string => p !== null);
  if (scenario?.rssEveryS !== undefined) {
    const drift = (p: PeerSummary): string => (p.rssDriftKiB ? `${p.rssDriftKiB.median >= 0 ? '+' : ''}${mib(p.rssDriftKiB.median)}` : '-');
    parts.push(`RSS drift after warm-up ${drift(relay)} vs ${drift(bare)}, peak ${relay.rssPeakKiB ? mib(relay.rssPeakKiB.median) : '-'} vs ${bare.rssPeakKiB ? mib(bare.rssPeakKiB.median) : '-'}`);
  }
  return `  ${relay.scenario}: ${parts.join(', ')}`;
}

/** One line per scenario where both the relay and uws-raw ran. */
export function parityLines(scenarios: readonly Scenario[], summaries: readonly PeerSummary[], ratios: readonly Ratio[]): string[] {
  const lines: string[] = [];
  for (const relay of summaries.filter((s) => s.peer === 'relay')) {
    const bare = summaries.find((s) => s.scenario === relay.scenario && s.peer === BARE);
    const ratio = ratios.find((x) => x.scenario === relay.scenario && x.peer === BARE);
    if (bare && ratio) lines.push(parityLine(scenarios.find((s) => s.name === relay.scenario), relay, bare, ratio));
  }
  return lines;
}

export const PARITY_HEADING = `relay ÷ ${BARE} (paired within rounds; above 1 the relay needed more; relay vs ${BARE} medians in brackets):`;
