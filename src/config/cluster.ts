// Config section `cluster:` (several relay instances acting as one, over a Redis pub/sub backplane).
import { z } from 'zod';

/**
 * True for redis://[user:password@]host[:port][/db] and rediss://… (TLS). The only query parameter allowed is
 * family=4|6: ioredis reads every other one as a client option, which could silently undo the backplane's own.
 */
export function isRedisUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  // ioredis turns TLS on only for a literal lower-case "rediss://": REDISS:// would silently connect in clear.
  if (!/^rediss?:\/\//.test(value)) return false;
  if (url.hostname === '' || url.hash !== '' || url.port === '0') return false;
  for (const [key, v] of url.searchParams) if (key !== 'family' || (v !== '4' && v !== '6')) return false;
  return url.pathname === '' || url.pathname === '/' || /^\/(?:\d|1[0-5])$/.test(url.pathname);
}

const redis = z.strictObject({
  url: z
    .string()
    .refine(isRedisUrl, { message: 'must be a redis:// or rediss:// URL: redis://[user:password@]host[:port][/db][?family=4|6], e.g. redis://127.0.0.1:6379' })
    .default('redis://127.0.0.1:6379')
    .describe('Redis server for the backplane; rediss:// uses TLS; credentials go in the URL (a /db number does not separate pub/sub channels: use channel_prefix)'),
  channel_prefix: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' })
    .default('websocket-relay')
    .describe('instances with the same prefix on the same Redis form one relay; the pub/sub channel is `<channel_prefix>:messages`'),
  connect_timeout_s: z
    .number()
    .positive()
    .max(300)
    .default(5)
    .describe('how long one connection attempt to Redis may take before it is retried; also bounds the unsubscribe and quit at shutdown (seconds)'),
  reconnect_max_delay_s: z
    .number()
    .positive()
    .max(300)
    .default(2)
    .describe('reconnect attempts back off linearly (0.1 s per attempt) up to this delay (seconds)'),
  health_check_interval_s: z
    .number()
    .min(0)
    .max(300)
    .default(5)
    .describe('PING both connections this often; one still silent at the next PING is dropped and reconnected, so a Redis that vanished without closing the TCP connection is noticed within two intervals (seconds); 0 disables'),
  max_pending_bytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(1024 * 1024 * 1024)
    .default(16 * 1024 * 1024)
    .describe('bytes of messages sent to Redis and not yet acknowledged; beyond it new cross-instance messages are dropped, never queued'),
});

export const clusterSchema = z.strictObject({
  backplane: z
    .enum(['none', 'redis'])
    .default('none')
    .describe('none: one process is the whole relay; redis: instances sharing a Redis and channel_prefix act as one relay'),
  ready_requires_backplane: z
    .boolean()
    .default(true)
    .describe('with a backplane, /readyz answers 503 while Redis is unreachable (local relaying continues either way)'),
  redis: redis.prefault({}),
});

export type ClusterConfig = z.output<typeof clusterSchema>;
export type RedisBackplaneConfig = ClusterConfig['redis'];
