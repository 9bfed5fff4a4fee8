// Number formatting shared by the terminal table and the HTML report.
import type { Spread } from '../summary.js';

/** 1234567 -> "1.23M", 45600 -> "45.6k" */
export function count(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${(v / 1e3).toPrecision(3)}k`;
  return v.toPrecision(3);
}

/** microseconds, shown in the unit that keeps three significant digits */
export function micros(us: number): string {
  if (us >= 1e6) return `${(us / 1e6).toPrecision(3)}s`;
  if (us >= 1e3) return `${(us / 1e3).toPrecision(3)}ms`;
  return `${us.toPrecision(3)}µs`;
}

export function fixed(digits: number): (v: number) => string {
  return (v) => v.toFixed(digits);
}

/** "median [min–max]", or just the median when every repeat agrees or there was one */
export function withSpread(s: Spread | null, f: (v: number) => string): string {
  if (!s) return '-';
  if (s.n === 1 || f(s.min) === f(s.max)) return f(s.median);
  return `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
}
