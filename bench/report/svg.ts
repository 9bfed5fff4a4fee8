// Inline SVG charts drawn by hand: the report must open offline, with no CDN and no chart library.
import type { PeerSummary } from '../summary.js';
import { count, micros } from './format.js';

export const PEER_COLOURS: Record<string, string> = {
  relay: '#d62728',
  'uws-raw': '#1f77b4',
  ws: '#2ca02c',
  gorilla: '#9467bd',
  url: '#ff7f0e',
  'relay-cluster': '#8c564b',
  'relay-cluster x-inst': '#e377c2',
};
const colour = (peer: string): string => PEER_COLOURS[peer] ?? '#7f7f7f';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Horizontal bars of median deliveries/s per peer, with a whisker from min to max over repeats. */
export function throughputChart(title: string, peers: readonly PeerSummary[]): string {
  const rowH = 26;
  const left = 80;
  const width = 420;
  const plotW = width - left - 70;
  const height = 30 + rowH * peers.length + 10;
  const top = Math.max(1, ...peers.map((p) => p.deliveriesPerS?.max ?? 0));
  const x = (v: number): number => left + (v / top) * plotW;
  const bars = peers.map((p, i) => {
    const y = 30 + i * rowH;
    const s = p.deliveriesPerS;
    if (!s) return `<text x="${left}" y="${y + 15}" font-size="11">${escapeXml(p.peer)}: no data</text>`;
    return [
      `<text x="${left - 6}" y="${y + 15}" font-size="11" text-anchor="end">${escapeXml(p.peer)}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${(x(s.median) - left).toFixed(1)}" height="${rowH - 8}" fill="${colour(p.peer)}"><title>${escapeXml(`${p.peer}: ${count(s.median)}/s (min ${count(s.min)}, max ${count(s.max)})`)}</title></rect>`,
      `<line x1="${x(s.min).toFixed(1)}" x2="${x(s.max).toFixed(1)}" y1="${y + rowH / 2 - 1}" y2="${y + rowH / 2 - 1}" stroke="#000" stroke-width="1.5"/>`,
      `<text x="${(x(s.max) + 4).toFixed(1)}" y="${y + 15}" font-size="11">${count(s.median)}</text>`,
    ].join('');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeXml(title)}"><text x="4" y="16" font-size="12" font-weight="bold">${escapeXml(title)}</text>${bars.join('')}</svg>`;
}

const PERCENTILES = [
  { label: 'p50', pick: (p: PeerSummary) => p.p50Us },
  { label: 'p90', pick: (p: PeerSummary) => p.p90Us },
  { label: 'p99', pick: (p: PeerSummary) => p.p99Us },
  { label: 'p99.9', pick: (p: PeerSummary) => p.p999Us },
  { label: 'max', pick: (p: PeerSummary) => p.maxUs },
] as const;

/** Median latency at each percentile, one line per peer, on a log scale (the tail spans decades). */
export function latencyChart(title: string, peers: readonly PeerSummary[]): string {
  const width = 420;
  const height = 230;
  const left = 60;
  const right = 80;
  const top = 28;
  const bottom = 30;
  const values = peers.flatMap((p) => PERCENTILES.map((q) => q.pick(p)?.median ?? 0)).filter((v) => v > 0);
  if (values.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="40"><text x="4" y="16" font-size="12">${escapeXml(title)}: no data</text></svg>`;
  const lo = Math.floor(Math.log10(Math.min(...values)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values))));
  const y = (v: number): number => top + (1 - (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (height - top - bottom);
  const x = (i: number): number => left + (i / (PERCENTILES.length - 1)) * (width - left - right);
  const grid: string[] = [];
  for (let e = lo; e <= hi; e++) {
    grid.push(`<line x1="${left}" x2="${width - right}" y1="${y(10 ** e).toFixed(1)}" y2="${y(10 ** e).toFixed(1)}" stroke="#ddd"/>`);
    grid.push(`<text x="${left - 4}" y="${(y(10 ** e) + 4).toFixed(1)}" font-size="10" text-anchor="end">${micros(10 ** e)}</text>`);
  }
  PERCENTILES.forEach((q, i) => grid.push(`<text x="${x(i).toFixed(1)}" y="${height - 10}" font-size="10" text-anchor="middle">${q.label}</text>`));
  const lines = peers.map((p, row) => {
    const points = PERCENTILES.map((q, i) => ({ i, v: q.pick(p)?.median ?? 0 })).filter((pt) => pt.v > 0);
    const path = points.map((pt) => `${x(pt.i).toFixed(1)},${y(pt.v).toFixed(1)}`).join(' ');
    const dots = points.map((pt) => `<circle cx="${x(pt.i).toFixed(1)}" cy="${y(pt.v).toFixed(1)}" r="2.5" fill="${colour(p.peer)}"><title>${escapeXml(`${p.peer} ${PERCENTILES[pt.i]?.label}: ${micros(pt.v)}`)}</title></circle>`);
    const legend = `<text x="${width - right + 8}" y="${top + 12 + row * 14}" font-size="11" fill="${colour(p.peer)}">${escapeXml(p.peer)}</text>`;
    return `<polyline points="${path}" fill="none" stroke="${colour(p.peer)}" stroke-width="2"/>${dots.join('')}${legend}`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeXml(title)}"><text x="4" y="16" font-size="12" font-weight="bold">${escapeXml(title)}</text>${grid.join('')}${lines.join('')}</svg>`;
}
