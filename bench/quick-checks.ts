// --quick verifies the harness, never timing: every message delivered exactly once and in order at
// fixed rate, text and binary preserved, and both report files well-formed.
import { readFileSync } from 'node:fs';
import type { Trial } from './trial.js';

/** Returns what is wrong; empty when the harness works. */
export function checkTrials(trials: readonly Trial[]): string[] {
  const problems: string[] = [];
  if (trials.length === 0) problems.push('no trial ran (no peer available?)');
  for (const t of trials) {
    const where = `${t.scenario} / ${t.peer}`;
    if (!t.ok) problems.push(`${where}: ${t.error ?? 'failed'}`);
    else if (t.expected === 0 || t.delivered !== t.expected) problems.push(`${where}: delivered ${t.delivered} of ${t.expected}`);
    if (t.lost || t.duplicated || t.outOfOrder || t.malformed || t.disconnects) {
      problems.push(`${where}: lost ${t.lost}, duplicated ${t.duplicated}, out of order ${t.outOfOrder}, malformed ${t.malformed}, disconnects ${t.disconnects}`);
    }
    if (t.backplaneDropped) problems.push(`${where}: the instances counted ${t.backplaneDropped} backplane drops (relay_backplane_dropped_total)`);
    // with several URLs about half the deliveries must have crossed instances, or the cluster was not exercised
    if (t.ok && t.remoteDeliveries === 0) problems.push(`${where}: no delivery crossed instances`);
  }
  return problems;
}

export function checkFiles(jsonPath: string, htmlPath: string, expectedTrials: number): string[] {
  const problems: string[] = [];
  try {
    const parsed = JSON.parse(readFileSync(jsonPath, 'utf8')) as { trials?: unknown; machine?: unknown };
    if (!Array.isArray(parsed.trials) || parsed.trials.length !== expectedTrials) problems.push(`${jsonPath}: expected ${expectedTrials} trials`);
    if (typeof parsed.machine !== 'object' || parsed.machine === null) problems.push(`${jsonPath}: no machine info`);
  } catch (err) {
    problems.push(`${jsonPath}: ${(err as Error).message}`);
  }
  try {
    const html = readFileSync(htmlPath, 'utf8');
    const opened = html.split('<svg').length - 1;
    const closed = html.split('</svg>').length - 1;
    if (!html.startsWith('<!doctype html>') || !html.trimEnd().endsWith('</html>')) problems.push(`${htmlPath}: not a complete HTML document`);
    if (opened === 0 || opened !== closed) problems.push(`${htmlPath}: ${opened} <svg> opened, ${closed} closed`);
    if (/<script|https?:\/\/(?!www\.w3\.org)/.test(html)) problems.push(`${htmlPath}: not self-contained (script or external URL)`);
  } catch (err) {
    problems.push(`${htmlPath}: ${(err as Error).message}`);
  }
  return problems;
}
