// The configuration loader's own process (see apart.ts): reads LoadOptions from stdin, loads and validates the
// configuration, writes the answer to stdout, and exits. Both ends use V8's serialization, which keeps every value
// a Config can hold. The relay starts it so that zod, js-yaml and the schema never take memory in its own process.
import { readFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { ConfigError } from '../errors.js';
import { loadConfig, type LoadOptions } from './load.js';
import type { LoaderAnswer } from './apart.js';

function answer(options: LoadOptions): LoaderAnswer {
  try {
    return { config: loadConfig(options) };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    return { failure: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
}

process.stdout.write(serialize(answer(deserialize(readFileSync(0)) as LoadOptions)));
