// Reads counters from a relay's /metrics after a trial: the harness's own check that a cluster
// dropped nothing between instances, beside the load generator's count of what arrived.

/**
 * Sum of every sample of `name` (all label sets) in Prometheus text exposition; 0 when absent.
 * Only exact series names count, so `x_total` does not match `x_total_created`.
 */
export function sumSeries(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    // after the labels (if any) come the value and an optional timestamp
    const sample = rest[0] === '{' ? rest.slice(rest.lastIndexOf('}') + 1) : rest;
    const value = Number(sample.trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

const TIMEOUT_MS = 5_000;

/** GETs http://127.0.0.1:PORT`path`; throws on a non-200 answer or after 5 s. */
export async function fetchText(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  return { status: res.status, text: await res.text() };
}
