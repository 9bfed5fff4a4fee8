// A real Prometheus (Debian's package) scrapes a relay under real traffic: the target is up, the connection gauge
// and the counters' rates follow what the clients did, the alert rules load and stay quiet on a healthy relay, every
// dashboard expression is accepted by Prometheus's own parser, and a stopped relay shows as down.
import { expect, it } from 'vitest';
import { connectMany } from '../../helpers/client.js';
import { ALERTS, asGrafanaWould, dashboardExpressions, JOB, rules } from '../../helpers/examples.js';
import { PROMETHEUS, startPrometheus, type Prometheus } from '../../helpers/prometheus.js';
import { startRelay } from '../../helpers/relay.js';
import { describeNeeding } from '../../helpers/required.js';
import { until } from '../../helpers/wait.js';

/** The single value of `expr` (undefined when it has no sample). */
async function value(prometheus: Prometheus, expr: string): Promise<number | undefined> {
  const samples = await prometheus.query(expr);
  if (samples.length > 1) throw new Error(`${expr}: ${samples.length} samples`);
  return samples[0]?.value;
}

/** Waits until `expr` evaluates to `want` in Prometheus (it scrapes every second). */
async function becomes(prometheus: Prometheus, expr: string, want: number, ms = 15_000): Promise<void> {
  let last: number | undefined;
  await until(
    async () => {
      last = await value(prometheus, expr);
      return last === want;
    },
    ms,
    `${expr} to be ${want} in Prometheus (last: ${last})`,
    200,
  );
}

const MISSING = PROMETHEUS === null ? 'prometheus not on PATH (apt-get install prometheus; .ci/run installs it)' : null;
describeNeeding(MISSING, 'a real Prometheus scraping the relay', () => {
  it('sees the target up, the gauge and the rates follow the traffic, the rules and dashboard evaluate, and a stopped relay goes down', async () => {
    const relay = await startRelay();
    const target = `127.0.0.1:${relay.metricsPort}`;
    const prometheus = await startPrometheus({ job: JOB, targets: [target], ruleFiles: [ALERTS] });
    const sel = `{job="${JOB}"}`;

    await becomes(prometheus, `up${sel}`, 1);
    await becomes(prometheus, `relay_connections_active${sel}`, 0);

    // Four clients, then a burst of 150 messages from one of them: every message reaches all four.
    const clients = await connectMany(relay.url, 4);
    await becomes(prometheus, `relay_connections_active${sel}`, 4);
    const BURST = 150;
    for (let i = 0; i < BURST; i++) clients[0]!.send(`m${i}`);
    await Promise.all(clients.map((c) => c.received(BURST)));
    await becomes(prometheus, `relay_messages_total${sel}`, BURST);
    await becomes(prometheus, `relay_deliveries_total${sel}`, 4 * BURST);
    // Over a window holding the burst, the rates are positive and fan-out (deliveries per message) is exactly 4.
    expect(await value(prometheus, `rate(relay_messages_total${sel}[30s])`)).toBeGreaterThan(0);
    expect(await value(prometheus, `rate(relay_received_bytes_total${sel}[30s])`)).toBeGreaterThan(0);
    expect(await value(prometheus, `increase(relay_deliveries_total${sel}[30s]) / increase(relay_messages_total${sel}[30s])`)).toBeCloseTo(4, 6);
    expect(await value(prometheus, `relay_connections_total${sel}`)).toBe(4);

    // Two leave: the gauge follows, and the disconnections are counted by reason.
    await Promise.all([clients[2]!.close(), clients[3]!.close()]);
    await becomes(prometheus, `relay_connections_active${sel}`, 2);
    await becomes(prometheus, `relay_disconnections_total{job="${JOB}", reason="client_close"}`, 2);

    // The alert rules loaded and are healthy, and none fires on this relay.
    const groups = (await prometheus.api('rules')) as { groups: { rules: { name: string; health: string }[] }[] };
    const loaded = groups.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    expect(loaded.filter((r) => r.health !== 'ok')).toEqual([]);
    expect(await prometheus.query('ALERTS{alertstate="firing"}')).toEqual([]);

    // Every dashboard expression, with Grafana's variables filled in, is accepted by Prometheus; the core panels have data.
    for (const { where, expr } of dashboardExpressions()) {
      await expect(prometheus.query(asGrafanaWould(expr, JOB, '10s')), where).resolves.toBeInstanceOf(Array);
    }
    for (const title of ['Active connections', 'Messages in', 'Deliveries out', 'Fan-out', 'CPU', 'Memory', 'Event-loop lag']) {
      const exprs = dashboardExpressions().filter((e) => e.where === `panel "${title}"`);
      expect(exprs.length, title).toBeGreaterThan(0);
      expect((await prometheus.query(asGrafanaWould(exprs[0]!.expr, JOB, '10s'))).length, title).toBeGreaterThan(0);
    }

    // A stopped relay is a down target.
    await relay.close();
    await becomes(prometheus, `up${sel}`, 0);
  }, 60_000);
});
