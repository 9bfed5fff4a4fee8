// Loads the configuration in a short-lived process of its own (loader-process.ts) instead of this one. Validation
// needs zod, the schema and js-yaml: about 5 MB of resident memory that a relay would otherwise keep for its whole
// life to use at start and at each reload (README, "Memory"). The answer is the same frozen Config, or the same
// ConfigError, that loadConfig gives in-process.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { ConfigError } from '../errors.js';
import { deepFreeze } from './freeze.js';
import type { LoadOptions } from './load.js';
import type { Config } from './schema.js';

/** What the loader process writes: the configuration, the problems that refused it, or an unexpected failure. */
export type LoaderAnswer = { readonly config: Config } | { readonly problems: readonly string[] } | { readonly failure: string };

/** The loader's entry: built next to this module; from the sources (tests under tsx), the build's. */
function loaderEntry(): string {
  const url = import.meta.url.endsWith('.ts') ? new URL('../../dist/config/loader-process.js', import.meta.url) : new URL('./loader-process.js', import.meta.url);
  return fileURLToPath(url);
}

/** The loader process could not give an answer (it could not start, crashed, or wrote something unreadable). */
export class LoaderFailure extends Error {
  override readonly name = 'LoaderFailure';
}

function settle(status: number | null, signal: string | null, stdout: Buffer, stderr: string, error?: Error): Config {
  if (error !== undefined) throw new LoaderFailure(`the configuration loader did not start: ${error.message}`, { cause: error });
  let answer: LoaderAnswer;
  try {
    answer = deserialize(stdout) as LoaderAnswer;
  } catch (err) {
    const how = signal !== null ? `was killed by ${signal}` : `exited with ${String(status)}`;
    throw new LoaderFailure(`the configuration loader ${how} without an answer${stderr === '' ? '' : `: ${stderr.trim()}`}`, { cause: err });
  }
  if ('problems' in answer) throw new ConfigError(answer.problems);
  if ('failure' in answer) throw new LoaderFailure(`the configuration loader failed: ${answer.failure}`);
  return deepFreeze(answer.config);
}

/**
 * loadConfig in the loader process, waiting for it (0.2-0.3 s on a busy 2-core machine; this thread's event loop stops meanwhile).
 * @throws ConfigError listing every problem, LoaderFailure when the loader process gave no answer
 */
export function loadConfigApart(options: LoadOptions): Config {
  const run = spawnSync(process.execPath, [loaderEntry()], { input: serialize(options), stdio: 'pipe', maxBuffer: 64 * 1024 * 1024 });
  return settle(run.status, run.signal, run.stdout, run.stderr.toString('utf8'), run.error);
}

/**
 * loadConfig in the loader process, without blocking this thread.
 * @throws (rejects with) ConfigError listing every problem, LoaderFailure when the loader process gave no answer
 */
export function loadConfigApartAsync(options: LoadOptions): Promise<Config> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [loaderEntry()], { stdio: 'pipe' });
    const out: Buffer[] = [];
    let err = '';
    let startError: Error | undefined;
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', (e) => (startError = e));
    // An early exit closes stdin under the write: the answer (or its absence) says what happened.
    child.stdin.on('error', () => {});
    child.on('close', (status, signal) => {
      try {
        resolve(settle(status, signal, Buffer.concat(out), err, startError));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
    child.stdin.end(serialize(options));
  });
}
