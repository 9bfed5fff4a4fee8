// Starts Debian's prometheus on a free loopback port, scraping given targets every second, for one test; stops it
// by PID. Queries go through its HTTP API.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { findOnPath, freePort } from './redis.js';
import { until, within } from './wait.js';

export const PROMETHEUS: string | null = findOnPath('prometheus');

export interface PrometheusOptions {
  /** host:port of each target of the job. */
  readonly targets: readonly string[];
  readonly job: string;
  /** Absolute paths of rule files to load. */
  readonly ruleFiles?: readonly string[];
}

/** One sample of an instant query: its labels and value. */
export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface Prometheus {
  readonly url: string;
  readonly pid: number;
  /** Runs an instant query; rejects with Prometheus's error text when the expression is refused. */
  query(expr: string): Promise<Sample[]>;
  /** GET /api/v1/<path> and return its `data`. */
  api(path: string): Promise<unknown>;
}

/**
 * Starts prometheus (scrape and rule evaluation every 1 s); it is stopped when the current test finishes. Should
 * something bind the free port it was given before it does, it is started again on another.
 */
export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPrometheusOn(opts, await freePort());
    } catch (err) {
      if (attempt === 3 || !(err instanceof Error) || !/address already in use/i.test(err.message)) throw err;
    }
  }
}

async function startPrometheusOn(opts: PrometheusOptions, port: number): Promise<Prometheus> {
  if (PROMETHEUS === null) throw new Error('prometheus is not on PATH');
  const dir = mkdtempSync(join(tmpdir(), 'relay-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '1s' },
      rule_files: opts.ruleFiles ?? [],
      scrape_configs: [{ job_name: opts.job, static_configs: [{ targets: opts.targets }] }],
    }),
  );
  const child = spawn(
    PROMETHEUS,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await within(exited, 10_000, `prometheus (pid ${child.pid}) to exit`);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  let gone = false;
  void exited.then(() => (gone = true));
  await until(
    async () => {
      if (gone) throw new Error(`prometheus exited before it was ready:\n${log}`);
      return (await fetch(`${url}/-/ready`).catch(() => null))?.status === 200;
    },
    20_000,
    `prometheus on port ${port} to be ready`,
    50,
  );
  const api = async (path: string): Promise<unknown> => {
    const res = await fetch(`${url}/api/v1/${path}`);
    const body = (await res.json()) as { status: string; data?: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  return {
    url,
    pid: child.pid as number,
    api,
    async query(expr) {
      const data = (await api(`query?query=${encodeURIComponent(expr)}`)) as { result: { metric: Record<string, string>; value: [number, string] }[] };
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
  };
}
