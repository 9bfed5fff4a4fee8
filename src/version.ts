// The relay's own version, from the package.json one directory up: from src/ when run from source, from dist/ when
// built, and from dist/ for the bundled entries too (they sit at its top level; see scripts/bundle.mjs).
import { readFileSync } from 'node:fs';

export const RELAY_VERSION: string = String((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version);
