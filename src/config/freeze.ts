// Deep freezing for configuration objects, in a module of its own: code that freezes a config it did not load (a reload's
// plan, the configuration loader's answer) does not load zod and the schema with it.

/** Freezes `value` and everything in it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
