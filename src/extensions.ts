// Builds the optional rooms (admission and limits, cross-instance backplane) that the config turns on.
import type { ExtensionContext, Extensions } from './app.js';

/** Returns the hub extensions the config asks for; none by default (a transparent single-process relay). */
export function buildExtensions(_ctx: ExtensionContext): Extensions {
  return {};
}
