// Where the bench finds the project and keeps its build products and results.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT_DIR = path.dirname(BENCH_DIR);
/** gitignored: the load generator, the Go peer and transpiled peers, built on first use */
export const BUILD_DIR = path.join(BENCH_DIR, '.build');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
