// The operator files in examples/: the alert rules, their promtool tests and the Grafana dashboard, parsed.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load as parseYaml } from 'js-yaml';

export const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
export const ALERTS = `${EXAMPLES}prometheus/alerts.yaml`;
export const ALERT_TESTS = `${EXAMPLES}prometheus/alerts.test.yaml`;
export const DASHBOARD = `${EXAMPLES}grafana/websocket-relay.json`;
/** The job name the rules expect. */
export const JOB = 'websocket-relay';

export interface Rule {
  readonly alert: string;
  readonly expr: string;
}
export interface AlertTest {
  readonly alertname: string;
  readonly exp_alerts?: unknown[];
}
export interface Panel {
  readonly type: string;
  readonly title: string;
  readonly datasource?: { uid?: string };
  readonly targets?: { expr: string }[];
}
export interface Dashboard {
  readonly panels: Panel[];
  readonly templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

export const rules: readonly Rule[] = (parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
export const alertTests: readonly AlertTest[] = (
  parseYaml(readFileSync(ALERT_TESTS, 'utf8')) as { tests: { alert_rule_test: AlertTest[] }[] }
).tests.flatMap((t) => t.alert_rule_test);
export const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Every PromQL expression of the dashboard (panel targets, and the series inside label_values() of its variables). */
export function dashboardExpressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const panel of dashboard.panels) for (const target of panel.targets ?? []) out.push({ where: `panel "${panel.title}"`, expr: target.expr });
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query' || variable.query === undefined) continue;
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    const inner = /^label_values\((.*),\s*\w+\)$/.exec(query);
    out.push({ where: `variable $${variable.name}`, expr: inner?.[1] ?? query });
  }
  return out;
}

/** Grafana's variables replaced the way Grafana would for `job`, all instances and a rate window. */
export function asGrafanaWould(expr: string, job: string, rateInterval: string): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$job', job).replaceAll('$instance', '.*');
}
