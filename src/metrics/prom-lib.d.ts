// The files of prom-client that src/metrics/prom.ts imports one by one, typed with the package's own declarations.
declare module 'prom-client/lib/counter.js' {
  import { Counter } from 'prom-client';
  export default Counter;
}
declare module 'prom-client/lib/gauge.js' {
  import { Gauge } from 'prom-client';
  export default Gauge;
}
declare module 'prom-client/lib/histogram.js' {
  import { Histogram } from 'prom-client';
  export default Histogram;
}
declare module 'prom-client/lib/registry.js' {
  import { Registry } from 'prom-client';
  export default Registry;
}
declare module 'prom-client/lib/defaultMetrics.js' {
  import { collectDefaultMetrics } from 'prom-client';
  export default collectDefaultMetrics;
}
declare module 'prom-client/lib/metricAggregators.js' {
  import type { Aggregator, MetricObjectWithValues, MetricValue } from 'prom-client';
  type Metric = MetricObjectWithValues<MetricValue<string>>;
  const metricAggregators: { aggregators: Partial<Record<Aggregator, (metrics: Metric[]) => Metric | undefined>> };
  export default metricAggregators;
}
