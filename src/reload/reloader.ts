// Applies a freshly loaded configuration to the running relay, all or nothing: every step prepares first (and may
// refuse, naming the key), then all commit. Counts every attempt in the Prometheus convention.
import type { Counter as PromCounter, Registry } from 'prom-client';
import { Counter, Gauge } from '../metrics/prom.js';
import type { Config } from '../config/schema.js';
import type { PreparedChange, ReloadStep } from '../contracts.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { planReload } from './plan.js';

export type { PreparedChange, ReloadStep };

/** What started a reload; a label in the log. */
export type ReloadTrigger = 'SIGHUP' | 'http' | 'tls_watch' | 'api';

export interface ReloadResult {
  readonly ok: boolean;
  /** One line per problem, as --check-config prints them; empty on success. */
  readonly problems: readonly string[];
  /** Keys applied live. */
  readonly applied: readonly string[];
  /** Keys that changed but need a restart; they keep their running value. */
  readonly restartOnly: readonly string[];
}

export interface ConfigReloaderOptions {
  readonly config: Config;
  /**
   * Reads the configuration from the sources the relay started from (file, RELAY_* env, --set). @throws ConfigError.
   * Without it a reload re-applies the running configuration.
   */
  readonly load?: () => Config;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Largest relay.max_payload_bytes the running uWS app can enforce. */
  readonly payloadCeiling: number;
  /** Wall clock (ms since epoch). */
  readonly now?: () => number;
}

export class ConfigReloader {
  readonly #opts: ConfigReloaderOptions;
  readonly #steps: ReloadStep[] = [];
  readonly #logger: Logger;
  #running: Config;
  readonly #succeeded: PromCounter.Internal;
  readonly #failed: PromCounter.Internal;
  readonly #lastOk: Gauge;
  readonly #lastSuccess: Gauge;

  constructor(opts: ConfigReloaderOptions) {
    this.#opts = opts;
    this.#running = opts.config;
    this.#logger = opts.logger;
    const reloads = new Counter({
      name: 'relay_config_reloads_total',
      help: 'Configuration reloads (SIGHUP, POST /-/reload, certificate file changes), by result',
      labelNames: ['result'] as const,
      registers: [opts.registry],
    });
    this.#succeeded = reloads.labels('success');
    this.#failed = reloads.labels('failure');
    this.#succeeded.inc(0);
    this.#failed.inc(0);
    this.#lastOk = new Gauge({
      name: 'relay_config_last_reload_successful',
      help: 'Whether the last configuration reload succeeded (1) or was refused (0); 1 before any reload',
      registers: [opts.registry],
    });
    this.#lastOk.set(1);
    this.#lastSuccess = new Gauge({
      name: 'relay_config_last_reload_success_timestamp_seconds',
      help: 'When the configuration in force was loaded (start or last successful reload), seconds since the epoch',
      registers: [opts.registry],
    });
    this.#lastSuccess.set(this.#now() / 1000);
  }

  /** The configuration in force (restart-only keys at their value from start). */
  get config(): Config {
    return this.#running;
  }

  /** Adds a step; steps prepare and commit in the order added. */
  add(step: ReloadStep): void {
    this.#steps.push(step);
  }

  /**
   * Reloads. With `sameSources: false` (a certificate file changed) the running configuration is re-applied as it is,
   * so only what steps read from disk themselves (certificates, token and key files) changes. Never throws.
   */
  reload(trigger: ReloadTrigger, { sameSources = true }: { sameSources?: boolean } = {}): ReloadResult {
    const running = this.#running;
    let next: Config;
    try {
      next = sameSources && this.#opts.load !== undefined ? this.#opts.load() : running;
    } catch (err) {
      return this.#refused(trigger, err);
    }
    const prepared: PreparedChange[] = [];
    let plan: ReturnType<typeof planReload>;
    try {
      // Inside the try: a step's restartOnly is plug-in code, and a throw here would escape a signal handler.
      const first = planReload(running, next, this.#opts.payloadCeiling);
      const refused = this.#steps.flatMap((step) => step.restartOnly?.(first.config, running) ?? []);
      plan = refused.length === 0 ? first : planReload(running, next, this.#opts.payloadCeiling, refused);
      for (const step of this.#steps) {
        const change = step.prepare(plan.config, running);
        if (change !== null) prepared.push(change);
      }
    } catch (err) {
      for (const change of prepared) change.abort?.();
      return this.#refused(trigger, err);
    }
    for (const change of prepared) {
      try {
        change.commit();
      } catch (err) {
        // A commit is an assignment; one that throws is a bug. The others still apply.
        this.#logger.error({ err, trigger }, 'applying part of a reload failed');
      }
    }
    this.#running = plan.config;
    const applied = plan.changed.filter((key) => !plan.restartOnly.includes(key));
    this.#succeeded.inc();
    this.#lastOk.set(1);
    this.#lastSuccess.set(this.#now() / 1000);
    for (const key of plan.restartOnly) {
      this.#logger.warn({ trigger, key }, `configuration reload: ${key} changed but needs a restart; keeping the running value`);
    }
    this.#logger.info({ trigger, applied, restart_only: plan.restartOnly }, 'configuration reloaded');
    return { ok: true, problems: [], applied, restartOnly: plan.restartOnly };
  }

  #refused(trigger: ReloadTrigger, err: unknown): ReloadResult {
    const problems = err instanceof ConfigError ? err.problems : [`unexpected error: ${err instanceof Error ? err.message : String(err)}`];
    for (const problem of problems) this.#logger.error({ trigger, problem }, `configuration reload refused: ${problem}`);
    if (!(err instanceof ConfigError)) this.#logger.error({ err, trigger }, 'configuration reload failed unexpectedly');
    this.#logger.warn({ trigger, problems: problems.length }, 'configuration reload refused; the running configuration stays in force');
    this.#failed.inc();
    this.#lastOk.set(0);
    return { ok: false, problems, applied: [], restartOnly: [] };
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }
}
