import { describe, expect, it } from 'vitest';
import { exposedNames, metricNames } from '../helpers/promql.js';

describe('metricNames', () => {
  it('finds metric names and nothing else', () => {
    expect(metricNames('sum by (instance, reason) (rate(relay_disconnections_total{job=~"$job", reason="slow_consumer"}[$__rate_interval])) > 0')).toEqual([
      'relay_disconnections_total',
    ]);
    expect(
      metricNames('histogram_quantile(0.99, sum by (le) (rate(relay_backplane_latency_seconds_bucket{instance=~"${instance}"}[5m]))) * 1e3'),
    ).toEqual(['relay_backplane_latency_seconds_bucket']);
    expect(metricNames('relay_connections_active / on (instance) group_left (x) (relay_connections_max > bool 0) or vector(0)')).toEqual([
      'relay_connections_active',
      'relay_connections_max',
    ]);
    expect(metricNames('absent(up{job="websocket-relay"}) unless process_open_fds offset 5m')).toEqual(['process_open_fds', 'up']);
    expect(metricNames('changes(process_start_time_seconds[30m]) >= 2')).toEqual(['process_start_time_seconds']);
  });

  it('keeps a misspelt name (so a check against /metrics catches it) and refuses broken expressions', () => {
    expect(metricNames('rate(relay_mesages_total[5m])')).toEqual(['relay_mesages_total']);
    expect(() => metricNames('sum(rate(relay_messages_total[5m])')).toThrow(/parentheses/);
    expect(() => metricNames('relay_messages_total{job="x}')).toThrow(/quotes|brackets/);
  });
});

describe('exposedNames', () => {
  it('reads sample names from an exposition', () => {
    const text = '# HELP a_total x\n# TYPE a_total counter\na_total 3\nh_bucket{le="1"} 2\nh_sum 1\nb{x="y"} 1\n';
    expect([...exposedNames(text)].sort()).toEqual(['a_total', 'b', 'h_bucket', 'h_sum']);
  });
});
