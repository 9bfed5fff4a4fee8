// `cluster:` config: defaults, URL validation with errors naming the key, and the latency histogram's exposition.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createBackplaneMetrics } from '../../src/cluster/metrics.js';
import { redactedUrl } from '../../src/config/redact.js';
import { isRedisUrl } from '../../src/config/cluster.js';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { metricValue } from '../helpers/metrics.js';

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ file: null, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('cluster config', () => {
  it('defaults to no backplane, with every redis default filled in', () => {
    expect(parseConfig({}).cluster).toEqual({
      backplane: 'none',
      ready_requires_backplane: true,
      redis: {
        url: 'redis://127.0.0.1:6379',
        channel_prefix: 'websocket-relay',
        connect_timeout_s: 5,
        reconnect_max_delay_s: 2,
        health_check_interval_s: 5,
        max_pending_bytes: 16 * 1024 * 1024,
      },
    });
  });

  it('takes env overrides like every other key', () => {
    const config = loadConfig({
      file: null,
      env: { RELAY_CLUSTER__BACKPLANE: 'redis', RELAY_CLUSTER__REDIS__URL: 'rediss://user:pw@redis.internal:6380/2', RELAY_CLUSTER__REDIS__CHANNEL_PREFIX: 'eu' },
    });
    expect(config.cluster.backplane).toBe('redis');
    expect(config.cluster.redis.url).toBe('rediss://user:pw@redis.internal:6380/2');
    expect(config.cluster.redis.channel_prefix).toBe('eu');
  });

  it.each([
    'redis://127.0.0.1:6379',
    'redis://localhost',
    'rediss://:secret@cache.example.com:6380/15',
    'redis://[::1]:6379/0',
    'redis://redis:6379?family=6',
  ])('accepts %s', (url) => {
    expect(isRedisUrl(url)).toBe(true);
  });

  it.each([
    'http://127.0.0.1:6379',
    '127.0.0.1:6379',
    'redis://',
    'redis://host:99999',
    'redis://host/not-a-db',
    'redis://host?enableOfflineQueue=true',
    'redis://host#x',
    'REDISS://host:6380',
    'redis://host:0',
    'redis://host/16',
    '',
  ])('rejects %j', (url) => {
    expect(isRedisUrl(url)).toBe(false);
  });

  it('reports a bad URL as one problem naming the key and where it came from', () => {
    expect(problems({ RELAY_CLUSTER__REDIS__URL: 'http://x' })).toEqual([
      'cluster.redis.url: must be a redis:// or rediss:// URL: redis://[user:password@]host[:port][/db][?family=4|6], e.g. redis://127.0.0.1:6379 (from RELAY_CLUSTER__REDIS__URL)',
    ]);
  });

  it('rejects an unknown backplane and unknown keys', () => {
    expect(problems({ RELAY_CLUSTER__BACKPLANE: 'nats' })).toEqual(['cluster.backplane: must be one of none, redis (from RELAY_CLUSTER__BACKPLANE)']);
    expect(problems({ RELAY_CLUSTER__REDIS__HOST: 'x' })).toEqual(['cluster.redis.host: unknown key (from RELAY_CLUSTER__REDIS__HOST)']);
  });

  it('never logs the password of the URL', () => {
    expect(redactedUrl('redis://user:hunter2@h:1/0')).toBe('redis://user:***@h:1/0');
    expect(redactedUrl('redis://h:1')).toBe('redis://h:1');
  });
});

describe('backplane metrics', () => {
  it('export the latency histogram with its buckets, negative latencies (clock skew) counted as 0', async () => {
    const registry = new Registry();
    const metrics = createBackplaneMetrics(registry, () => true);
    for (const v of [0.00005, 0.002, 3, -1]) metrics.observeLatency(v);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE relay_backplane_latency_seconds histogram');
    expect(metricValue(text, 'relay_backplane_latency_seconds_bucket', { le: '0.0001' })).toBe(2);
    expect(metricValue(text, 'relay_backplane_latency_seconds_bucket', { le: '0.0025' })).toBe(3);
    expect(metricValue(text, 'relay_backplane_latency_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(metricValue(text, 'relay_backplane_connected')).toBe(1);
    expect(metricValue(text, 'relay_backplane_dropped_total', { reason: 'disconnected' })).toBe(0);
  });
});
