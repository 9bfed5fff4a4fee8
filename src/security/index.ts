// Builds the admission and per-message limiter from `security:` and `limits:`.
import type { ExtensionContext, Extensions } from '../app.js';

/** Returns the admission/limiter extensions the config turns on; none by default. */
export function buildSecurity(_ctx: ExtensionContext): Pick<Extensions, 'admission' | 'limiter'> {
  return {};
}
