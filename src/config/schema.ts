// The relay's configuration: every key, its default, its unit and its meaning, in one place.
// The README's config table and config/relay.yaml are checked against this file by a test.
import { z } from 'zod';
import { DRAIN_GRACE_S } from '../relay/drain.js';
import { MAX_WORKERS } from '../workers/count.js';
import { clusterSchema } from './cluster.js';
import { limitsSchema, securitySchema } from './security.js';

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);
const nullablePath = z.string().min(1).nullable();


export { DRAIN_GRACE_S };

const tls = z
  .strictObject({
    cert_file: nullablePath.default(null).describe('PEM certificate chain; TLS (wss://) is on when cert_file and key_file are both set'),
    key_file: nullablePath.default(null).describe('PEM private key'),
    passphrase: z.string().nullable().default(null).describe('passphrase of key_file, if it is encrypted'),
    watch: z
      .boolean()
      .default(true)
      .describe('reload the certificate by itself when cert_file or key_file change (also a symlink swap of their directory, as Kubernetes does)'),
  })
  .refine((t) => (t.cert_file === null) === (t.key_file === null), {
    message: 'cert_file and key_file must be set together',
  });

const server = z.strictObject({
  host: host.default('0.0.0.0').describe('address the WebSocket listener binds'),
  port: port.default(8443).describe('WebSocket port; 0 takes any free port'),
  tls: tls.prefault({}),
  demo_page: z
    .boolean()
    .default(false)
    .describe('serve a small browser page at GET / on the WebSocket port that connects back, shows what arrives and sends what is typed'),
  workers: z
    .union([z.literal('auto'), z.number().int().min(1).max(MAX_WORKERS)])
    .default('auto')
    .describe(
      'uWS threads serving WebSocket clients, one relay across all of them; auto = the CPUs this process may use (cgroup CPU quota, else available parallelism); 1 = the main thread only',
    ),
});

const relay = z.strictObject({
  echo: z.boolean().default(true).describe('deliver a message back to its sender too'),
  rooms: z.boolean().default(false).describe('the request path is the room: only clients on the same path see each other'),
  max_payload_bytes: z
    .number()
    .int()
    .min(16)
    .max(64 * 1024 * 1024)
    .default(65536)
    .describe('largest message a client may send (bytes); larger ones close the sender with 1009'),
  idle_timeout_s: z
    .number()
    .int()
    .refine((v) => v === 0 || (v >= 8 && v <= 960), { message: 'must be 0 (off) or between 8 and 960' })
    .default(120)
    .describe('close a connection silent for this long (seconds; pings keep live clients open); 0 disables'),
  max_backpressure_bytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(1048576)
    .describe('bytes a client may have queued before uWS drops it without a close frame (the hard per-socket limit)'),
  soft_backpressure_bytes: z
    .number()
    .int()
    .min(512)
    .nullable()
    .default(null)
    .describe(
      'bytes a client has not read (queued, or sent past its last answer to a ping it has left unanswered for read_timeout_s) at which the relay ends it with 4008 "slow consumer", the close frame queued behind its data; null = half of max_backpressure_bytes',
    ),
  max_stall_s: z
    .number()
    .min(0)
    .max(3600)
    .default(10)
    .describe('a client whose queue has not drained at all for this long is ended with 4008 "slow consumer", whatever its size (seconds); 0 disables'),
  read_timeout_s: z
    .number()
    .refine((v) => v === 0 || (v >= 0.1 && v <= 60), { message: 'must be 0 (off) or between 0.1 and 60' })
    .default(1)
    .describe(
      'a client that leaves a ping queued behind its data unanswered this long, with soft_backpressure_bytes sent past its last answer, is ended with 4008 "slow consumer" (what waits in the kernel counts); 0 = no such pings (seconds)',
    ),
  max_total_backpressure_bytes: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'bytes queued over all clients together; above it the largest queues are dropped first until under; 0 = a quarter of the memory limit (cgroup memory.max, else physical memory)',
    ),
}).refine((r) => r.soft_backpressure_bytes === null || r.soft_backpressure_bytes < r.max_backpressure_bytes, {
  message: 'must be less than max_backpressure_bytes',
  path: ['soft_backpressure_bytes'],
});

/** Paths the metrics server answers itself; metrics.path may not shadow them. */
export const PROBE_PATHS: readonly string[] = ['/healthz', '/readyz'];

const metrics = z.strictObject({
  enabled: z.boolean().default(true).describe('serve Prometheus metrics, /healthz and /readyz'),
  host: host.default('0.0.0.0').describe('address the metrics server binds'),
  port: port.default(9090).describe('metrics port; 0 takes any free port'),
  path: z
    .string()
    .startsWith('/')
    .refine((p) => !PROBE_PATHS.includes(p), { message: `must not be ${PROBE_PATHS.join(' or ')} (the probes are served there)` })
    .refine((p) => !p.includes('?'), { message: 'must be a path without a query (?)' })
    .default('/metrics')
    .describe('path of the Prometheus exposition; not /healthz or /readyz'),
  reload_endpoint: z.boolean().default(false).describe('`POST /-/reload` on the metrics port reloads the configuration, like SIGHUP'),
});

const shutdown = z
  .strictObject({
    timeout_s: z
      .number()
      .positive()
      .max(3600)
      .default(10)
      .describe('longest a graceful shutdown may take before remaining sockets are force-closed and the process exits (seconds)'),
    drain_delay_s: z
      .number()
      .min(0)
      .max(3600)
      .default(0)
      .describe('time between /readyz turning 503 and the listener closing, so load balancers stop routing first (seconds)'),
    drain_spread_s: z
      .number()
      .min(0)
      .max(3600)
      .default(0)
      .describe('spread the 1001 closes of a shutdown over this window, so clients reconnect elsewhere as a ramp, not a spike (seconds); 0 = all at once'),
  })
  .refine((s) => s.drain_delay_s < s.timeout_s, { message: 'drain_delay_s must be less than timeout_s', path: ['drain_delay_s'] })
  .refine((s) => s.drain_spread_s === 0 || s.drain_delay_s + s.drain_spread_s + DRAIN_GRACE_S <= s.timeout_s, {
    message: `drain_delay_s + drain_spread_s + ${DRAIN_GRACE_S} (the close handshake) must fit inside timeout_s`,
    path: ['drain_spread_s'],
  });

const log = z.strictObject({
  level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level; nothing per message is logged above debug'),
});

/** The whole configuration file. Unknown keys are errors; every key has a default. */
export const configSchema = z
  .strictObject({
    server: server.prefault({}),
    relay: relay.prefault({}),
    metrics: metrics.prefault({}),
    shutdown: shutdown.prefault({}),
    log: log.prefault({}),
    security: securitySchema.prefault({}),
    limits: limitsSchema.prefault({}),
    cluster: clusterSchema.prefault({}),
  })
  // Shutdown steps run in sequence under one watchdog: a step's own bound must leave room for the drain delay,
  // or every shutdown that waits out that bound is cut short by the watchdog.
  .superRefine((c, ctx) => {
    if (c.cluster.backplane === 'none') return;
    const { timeout_s, drain_delay_s, drain_spread_s } = c.shutdown;
    const step = c.cluster.redis.connect_timeout_s;
    if (drain_delay_s + drain_spread_s + step >= timeout_s) {
      const spread = drain_spread_s > 0 ? ` + shutdown.drain_spread_s (${drain_spread_s})` : '';
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'redis', 'connect_timeout_s'],
        message: `bounds the backplane's close at shutdown: shutdown.drain_delay_s (${drain_delay_s})${spread} + connect_timeout_s (${step}) must be less than shutdown.timeout_s (${timeout_s})`,
      });
    }
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ServerConfig = Config['server'];
export type RelayConfig = Config['relay'];
export type MetricsConfig = Config['metrics'];
export type TlsConfig = Config['server']['tls'];
export type ShutdownConfig = Config['shutdown'];

/** Parses raw (already YAML-decoded) input; throws a ZodError on bad input. */
export function parseConfig(input: unknown): Config {
  return configSchema.parse(input ?? {});
}

/** The effective default configuration: what an empty file gives. */
export function defaultConfig(): Config {
  return parseConfig({});
}
