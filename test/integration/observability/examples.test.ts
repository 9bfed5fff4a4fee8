// The alert rules and the Grafana dashboard in examples/ are checked against the relay's real /metrics (every metric
// an expression reads exists), by promtool (rules load, unit tests pass, every alert has a firing and a quiet case),
// and the relay's exposition itself passes `promtool check metrics`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connectMany } from '../../helpers/client.js';
import { ALERT_TESTS, ALERTS, alertTests, dashboard, dashboardExpressions, EXAMPLES, rules } from '../../helpers/examples.js';
import { scrape } from '../../helpers/metrics.js';
import { exposedNames, metricNames } from '../../helpers/promql.js';
import { findOnPath, REDIS_SERVER, startRedis } from '../../helpers/redis.js';
import { startRelay } from '../../helpers/relay.js';
import { describeNeeding } from '../../helpers/required.js';
import { until } from '../../helpers/wait.js';

const run = promisify(execFile);
/** Series Prometheus makes itself for every target. */
const SYNTHETIC = new Set(['up']);
const PROMTOOL = findOnPath('promtool');

describe('Grafana dashboard', () => {
  it('takes its data source from a variable on every panel', () => {
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const queried = dashboard.panels.filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThan(10);
    for (const panel of queried) expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
  });
});

describe('alert rules', () => {
  it('each alert has a unit test where it fires and one where it stays quiet', () => {
    for (const { alert } of rules) {
      const cases = alertTests.filter((t) => t.alertname === alert);
      expect(cases.some((t) => (t.exp_alerts ?? []).length > 0), `${alert} fires in a test`).toBe(true);
      expect(cases.some((t) => (t.exp_alerts ?? []).length === 0), `${alert} stays quiet in a test`).toBe(true);
    }
    // and no test names an alert that does not exist
    expect(new Set(alertTests.map((t) => t.alertname))).toEqual(new Set(rules.map((r) => r.alert)));
  });
});

const SKIP_REDIS = REDIS_SERVER === null ? 'redis-server not on PATH (apt-get install redis-server; .ci/run installs it)' : null;
describeNeeding(SKIP_REDIS, 'dashboard and alerts against the real /metrics', () => {
  let cached: Promise<string> | null = null;
  /** The relay's /metrics after some traffic, scraped once (by the first test; its relay stops when that test ends). */
  const metricsText = (): Promise<string> => (cached ??= scrapeFullRelay());
  async function scrapeFullRelay(): Promise<string> {
    // Cluster mode and a rate limit on, so that every optional series is registered.
    const redis = await startRedis();
    const relay = await startRelay({
      cluster: { backplane: 'redis', redis: { url: redis.url } },
      limits: { max_messages_per_second: 1000, on_rate_exceeded: 'drop' },
    });
    await until(() => relay.readiness.ready, 10_000, 'the backplane to connect');
    const [a, b] = await connectMany(relay.url, 2);
    a!.send('traffic');
    await b!.received(1);
    return scrape(relay.metricsUrl);
  }

  it('every metric the dashboard reads exists', async () => {
    const exposed = exposedNames(await metricsText());
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThan(20);
    for (const { where, expr } of expressions) {
      const names = metricNames(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(SYNTHETIC.has(name) || exposed.has(name), `${where} reads ${name}, which /metrics lacks`).toBe(true);
    }
  });

  it('every metric the alert rules read exists', async () => {
    const exposed = exposedNames(await metricsText());
    for (const { alert, expr } of rules) {
      for (const name of metricNames(expr)) expect(SYNTHETIC.has(name) || exposed.has(name), `${alert} reads ${name}, which /metrics lacks`).toBe(true);
    }
  });

  describeNeeding(PROMTOOL === null ? 'promtool not on PATH (apt-get install prometheus; .ci/run installs it)' : null, 'promtool', () => {
    it('passes check metrics on the relay exposition', async () => {
      const child = execFile(PROMTOOL!, ['check', 'metrics']);
      const output = new Promise<{ code: number | null; text: string }>((resolve) => {
        let text = '';
        child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
        child.on('close', (code) => resolve({ code, text }));
      });
      child.stdin?.end(await metricsText());
      const { code, text } = await output;
      expect(text).toBe('');
      expect(code).toBe(0);
    });

    it('accepts examples/prometheus.yml with the rules it loads', async () => {
      const check = await run(PROMTOOL!, ['check', 'config', `${EXAMPLES}prometheus.yml`]);
      expect(check.stdout).toContain('SUCCESS: 1 rule files found');
    });

    it('loads the rules and passes their unit tests', async () => {
      const check = await run(PROMTOOL!, ['check', 'rules', ALERTS]);
      expect(check.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
      const tests = await run(PROMTOOL!, ['test', 'rules', ALERT_TESTS]);
      expect(tests.stdout).toContain('SUCCESS');
    });
  });
});
