// prom-client, each part from its own file. The package's index also loads its cluster aggregator and Pushgateway,
// and with them node:cluster, child_process, https and zlib, in every thread that imports it: about 1 MB of resident
// memory per thread on Node 20 and 4 MB on Node 24 (README, "Memory"). The relay imports prom-client's values from
// here; its types still come from the package.
import type * as Prom from 'prom-client';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import counter from 'prom-client/lib/counter.js';
import collect from 'prom-client/lib/defaultMetrics.js';
import gauge from 'prom-client/lib/gauge.js';
import histogram from 'prom-client/lib/histogram.js';
import metricAggregators from 'prom-client/lib/metricAggregators.js';
import registry from 'prom-client/lib/registry.js';

export const Counter = counter;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = gauge;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = histogram;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
export const Registry = registry;
export type Registry<T extends Prom.RegistryContentType = Prom.PrometheusContentType> = Prom.Registry<T>;
export const collectDefaultMetrics = collect;

type Metric = MetricObjectWithValues<MetricValue<string>>;

/**
 * One registry holding `lists` merged by metric name, each name with its own aggregator (`sum`, `first`, ...), as
 * prom-client's cluster aggregation does it.
 */
export function aggregate(lists: readonly (readonly Metric[])[]): Registry {
  const byName = new Map<string, Metric[]>();
  for (const list of lists) {
    for (const metric of list) {
      const same = byName.get(metric.name);
      if (same === undefined) byName.set(metric.name, [metric]);
      else same.push(metric);
    }
  }
  const merged = new registry();
  for (const metrics of byName.values()) {
    const name = metrics[0]!.aggregator;
    const aggregator = metricAggregators.aggregators[name];
    if (aggregator === undefined) throw new Error(`metric ${metrics[0]!.name}: no aggregator '${name}'`);
    const result = aggregator(metrics);
    // The 'omit' aggregator returns nothing.
    if (result !== undefined) merged.registerMetric({ ...result, get: () => result } as unknown as Parameters<typeof merged.registerMetric>[0]);
  }
  return merged;
}
