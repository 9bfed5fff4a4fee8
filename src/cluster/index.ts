// Builds the cross-instance backplane from `cluster:` and ties it to readiness and shutdown.
import type { ExtensionContext, Extensions } from '../app.js';
import type { Hub } from '../relay/hub.js';
import { RedisBackplane } from './redis.js';

const READINESS = 'backplane';

/**
 * Returns the backplane the config asks for; none by default. With `redis` it starts connecting without waiting
 * (the relay serves local clients while Redis is away) and closes after the clients, before the metrics server.
 */
export async function buildCluster(ctx: ExtensionContext): Promise<Pick<Extensions, 'backplane'>> {
  const cluster = ctx.config.cluster;
  if (cluster.backplane === 'none') return {};
  const gate = cluster.ready_requires_backplane;
  if (gate) ctx.readiness.block(READINESS, 'connecting to redis');
  let hub: Hub | undefined;
  const backplane = new RedisBackplane({
    config: cluster.redis,
    logger: ctx.logger.child({ room: 'cluster' }),
    registry: ctx.metrics.registry,
    // The hub is created after the extensions; no message can arrive before it (Redis answers on a later turn).
    deliver: (topic, payload, isBinary) => (hub ??= ctx.hub()).deliver(topic, payload, isBinary),
    onConnectedChange: (connected) => {
      if (!gate) return;
      if (connected) ctx.readiness.unblock(READINESS);
      else ctx.readiness.block(READINESS, 'redis unreachable');
    },
  });
  ctx.lifecycle.add('redis backplane', () => backplane.close());
  backplane.connect();
  return { backplane };
}
