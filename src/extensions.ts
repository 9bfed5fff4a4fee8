// Builds the optional rooms (admission and limits, cross-instance backplane) that the config turns on.
import type { ExtensionContext, Extensions } from './contracts.js';
import { buildCluster } from './cluster/index.js';
import { buildSecurity } from './security/index.js';

/** Returns the hub extensions the config asks for; none by default (a transparent single-process relay). */
export async function buildExtensions(ctx: ExtensionContext): Promise<Extensions> {
  return { ...buildSecurity(ctx), ...(await buildCluster(ctx)) };
}
