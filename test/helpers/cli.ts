// Runs the built CLI (dist/cli.js) as a child process, as a user would, and reads its logs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { within } from './wait.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/**
 * Config text that binds both listeners to loopback on free ports, without admission on event-loop delay: a loaded
 * test machine can delay any process's loop past the limit, and the relay would refuse fresh clients with 503.
 */
export const LOOPBACK = 'server: { host: 127.0.0.1, port: 0 }\nmetrics: { host: 127.0.0.1, port: 0 }\nlimits: { max_event_loop_delay_ms: 0 }\n';

/** A fresh temporary folder (`dir`) and a writer that puts each config text into a new YAML file there. */
export function configFiles(prefix: string): { dir: string; configFile: (text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let files = 0;
  const configFile = (text: string): string => {
    const path = join(dir, `relay-${files++}.yaml`);
    writeFileSync(path, text);
    return path;
  };
  return { dir, configFile };
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code (or 128+signal) when the process exits. */
  readonly exited: Promise<number>;
}

/**
 * Spawns `node dist/cli.js ...args`; the process is killed (by PID) if still running when the test ends.
 * @param wrapper a command that execs the rest (e.g. ['prlimit', '--nofile=400:400']): the PID stays the relay's
 */
export function runCli(args: readonly string[], env: Record<string, string> = {}, wrapper: readonly string[] = []): CliRun {
  const [command, ...prefix] = [...wrapper, process.execPath];
  const child = spawn(command ?? process.execPath, [...prefix, CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCliToExit(args: readonly string[], env: Record<string, string> = {}, ms = 15_000) {
  const run = runCli(args, env);
  const code = await within(run.exited, ms, `websocket-relay ${args.join(' ')} to exit`);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

export interface Listening {
  readonly ws_port: number;
  readonly metrics_port: number | null;
}

/** Waits for the "relay listening" log line and returns the ports it names. */
export async function listening(run: CliRun, ms = 15_000): Promise<Listening> {
  return within(
    new Promise<Listening>((resolve, reject) => {
      const check = (): void => {
        // only complete lines: a chunk may end in the middle of one
        for (const line of run.stdout().split('\n').slice(0, -1)) {
          if (!line.includes('"relay listening"')) continue;
          const parsed = JSON.parse(line) as Listening;
          resolve(parsed);
          return;
        }
      };
      run.child.stdout?.on('data', check);
      check();
      void run.exited.then((code) => reject(new Error(`exited with ${code} before listening:\n${run.stdout()}\n${run.stderr()}`)));
    }),
    ms,
    'the relay to listen',
  );
}
