// Finds the metric names a PromQL expression reads, well enough to check dashboards and alert rules against a real
// /metrics: strings, label matchers, ranges, grouping clauses and function calls are not metric names.

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);
const AGGREGATIONS = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;

/**
 * The metric names in `expr`. Grafana variables ($var, ${var}, [$__rate_interval]) are allowed anywhere.
 * @throws Error when brackets or quotes do not balance (a broken expression must not pass as "no names")
 */
export function metricNames(expr: string): string[] {
  let rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings
    .replace(/\$\{\w+(?::\w+)?\}|\$\w+/g, ' '); // Grafana variables
  if (/["'`]/.test(rest.replace(/""/g, ''))) throw new Error(`unbalanced quotes in ${expr}`);
  rest = rest.replace(/\{[^{}]*\}/g, ' ').replace(/\[[^[\]]*\]/g, ' '); // label matchers, ranges and subqueries
  if (/[{}[\]]/.test(rest)) throw new Error(`unbalanced brackets in ${expr}`);
  rest = rest.replace(AGGREGATIONS, ' ');
  let depth = 0;
  for (const c of rest) {
    depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    if (depth < 0) break;
  }
  if (depth !== 0) throw new Error(`unbalanced parentheses in ${expr}`);
  const names = new Set<string>();
  for (const match of rest.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const word = match[0];
    const before = rest[match.index - 1] ?? ' ';
    if (/[\d.]/.test(before)) continue; // the exponent or unit of a number (1e3, 5m)
    if (/^\s*\(/.test(rest.slice(match.index + word.length))) continue; // a function or aggregation call
    if (KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** Every sample name in a Prometheus text exposition (histograms give their _bucket, _sum and _count). */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)[{ ]/.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}
