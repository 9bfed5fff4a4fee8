// Builds the cross-instance backplane from `cluster:`.
import type { ExtensionContext, Extensions } from '../app.js';

/** Returns the backplane the config asks for; none by default. */
export async function buildCluster(_ctx: ExtensionContext): Promise<Pick<Extensions, 'backplane'>> {
  return {};
}
