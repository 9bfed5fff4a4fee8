// Builds the cross-instance backplane from `cluster:` and ties it to readiness and shutdown.
import type { ExtensionContext, Extensions } from '../contracts.js';

const READINESS = 'backplane';

/**
 * Returns the backplane the config asks for; none by default. With `redis` it starts connecting without waiting
 * (the relay serves local clients while Redis is away) and closes after the clients, before the metrics server.
 */
export async function buildCluster(ctx: ExtensionContext): Promise<Pick<Extensions, 'backplane'>> {
  const cluster = ctx.config.cluster;
  if (cluster.backplane === 'none') return {};
  // ioredis costs about 20 MB of RSS once loaded: only a relay with a backplane pays for it
  const { RedisBackplane } = await import('./redis.js');
  const gate = cluster.ready_requires_backplane;
  if (gate) ctx.readiness.block(READINESS, 'connecting to redis');
  const backplane = new RedisBackplane({
    config: cluster.redis,
    logger: ctx.logger.child({ room: 'cluster' }),
    registry: ctx.registry,
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
