// Reads the relay's Prometheus exposition in tests.

/** Fetches `url` and returns the body text. */
export async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

/** The value of one sample, e.g. metricValue(text, 'relay_disconnections_total', { reason: 'shutdown' }); undefined when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map(Array.from((match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g), (m) => [m[1], m[2]]));
    if (want.every(([k, v]) => have.get(k) === v)) return Number(match[3]);
  }
  return undefined;
}
