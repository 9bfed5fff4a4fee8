// The README's tables proven against the code, in both directions: a name the code has and the README lacks fails,
// and so does a name the README documents and the code does not have. Metric names, types and labels (read from a
// running relay with every optional room on), label values, close codes, exit codes, error codes, signals, and the
// development tree. (The config table is checked in test/unit/config.test.ts.)
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ExitCode } from '../../src/errors.js';
import { CloseCode, DISCONNECT_REASONS, UPGRADE_REJECT_REASONS } from '../../src/relay/protocol.js';
import { README, codeBlockAfter, tablesHeaded, ticked } from '../helpers/readme.js';
import { freePort } from '../helpers/redis.js';
import { startRelay } from '../helpers/relay.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sorted = (values: Iterable<string | number>): (string | number)[] => [...new Set(values)].sort();

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

/** What the README's series tables say: name → type, label names, meaning. Wildcard rows (`process_*`) are prose. */
function documentedMetrics(): Map<string, { type: string; labels: string[]; meaning: string }> {
  const out = new Map<string, { type: string; labels: string[]; meaning: string }>();
  for (const table of tablesHeaded('series')) {
    for (const [series = '', type = '', meaning = ''] of table.rows) {
      const spelled = ticked(series)[0] ?? '';
      if (spelled.includes('*')) continue;
      const match = /^(\w+)(?:\{([\w,]+)\})?$/.exec(spelled);
      if (match === null) throw new Error(`README series cell not understood: ${series}`);
      out.set(match[1] ?? '', { type, labels: match[2]?.split(',') ?? [], meaning });
    }
  }
  return out;
}

/**
 * The label values a series row lists: the code spans after its first ':' outside parentheses
 * ("…: `a` (why), `b`"); or, when it lists none, the first column of the table headed "`<label>` label".
 */
function documentedValues(meaning: string, label: string): string[] {
  const colon = meaning.indexOf(':');
  const listed = colon < 0 ? [] : ticked(meaning.slice(colon + 1).replace(/\([^)]*\)/g, ''));
  if (listed.length > 0) return listed;
  const [table] = tablesHeaded(`\`${label}\` label`);
  return table?.rows.flatMap((row) => ticked(row[0] ?? '')) ?? [];
}

/** Signals the code handles: every 'SIG…' literal in src/. */
function handledSignals(): string[] {
  return sorted(files(join(ROOT, 'src')).flatMap((f) => Array.from(readFileSync(f, 'utf8').matchAll(/'(SIG[A-Z0-9]+)'/g), (m) => m[1] ?? ''))) as string[];
}

describe('README tables agree with the code', () => {
  it('metrics: every relay_* series the code registers is documented with its type and labels, and nothing else is', async () => {
    // Every optional room on, so every series is registered; the backplane needs no Redis to register its own.
    const relay = await startRelay({
      limits: { max_messages_per_second: 1000, max_connections: 10 },
      security: { allowed_origins: ['https://a.example'] },
      cluster: { backplane: 'redis', redis: { url: `redis://127.0.0.1:${await freePort()}`, connect_timeout_s: 1 } },
    });
    const registry = relay.metrics.registry;
    const code = (await registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('relay_'));
    const docs = documentedMetrics();
    expect(sorted(docs.keys()), 'README series tables vs registered relay_* series').toEqual(sorted(code.map((m) => m.name)));

    for (const metric of code) {
      const doc = docs.get(metric.name);
      expect(doc?.type, `${metric.name}: type`).toBe(metric.type);
      const labelNames = (registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
      expect(sorted(doc?.labels ?? []), `${metric.name}: labels`).toEqual(sorted(labelNames));
      // relay_build_info's label values are the versions running here (relay, Node, uWS build), and
      // relay_worker_connections' the thread numbers (server.workers): not fixed sets.
      if (metric.name === 'relay_build_info' || metric.name === 'relay_worker_connections') continue;
      for (const label of labelNames) {
        // every label value is exported from the first scrape, so the registry lists them all
        const values = metric.values.map((v) => String(v.labels[label]));
        expect(sorted(documentedValues(doc?.meaning ?? '', label)), `${metric.name}{${label}} values`).toEqual(sorted(values));
      }
    }
  });

  it('rejection reasons: the Security checks table names only real reasons', () => {
    const [checks] = tablesHeaded('check');
    const reasons = checks?.rows.flatMap((row) => ticked(row[row.length - 1] ?? '')) ?? [];
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(UPGRADE_REJECT_REASONS as readonly string[]).toContain(reason);
  });

  it('disconnect reasons and close codes: the `reason` table lists every reason, and the codes the relay sends', () => {
    const [table] = tablesHeaded('`reason` label');
    const rows = table?.rows ?? [];
    expect(sorted(rows.flatMap((row) => ticked(row[0] ?? '')))).toEqual(sorted(DISCONNECT_REASONS));
    const codes = rows.flatMap((row) => Array.from((row[2] ?? '').matchAll(/\*\*(\d{4})\*\*/g), (m) => Number(m[1])));
    expect(sorted(codes)).toEqual(sorted(Object.values(CloseCode)));
  });

  it('exit codes: every ExitCode is in the table with its error code, and every row is a real exit', () => {
    const [table] = tablesHeaded('exit code');
    const rows = (table?.rows ?? []).map((row) => ({ codes: (row[0] ?? '').split('/').map((c) => Number(c.trim())), meaning: row[1] ?? '' }));
    const documented = rows.flatMap((r) => r.codes);
    for (const [name, code] of Object.entries(ExitCode)) expect(documented, `ExitCode.${name}`).toContain(code);
    const signalExits = handledSignals().map((s) => 128 + (constants.signals[s as keyof typeof constants.signals] ?? 0));
    for (const code of documented) expect([...Object.values(ExitCode), ...signalExits], `documented exit ${code}`).toContain(code);
    // each error code sits on the row of its exit code, and the README names no other RELAY_ERR_*
    for (const [name, errorCode] of Object.entries(ErrorCode)) {
      const exit = ExitCode[name as keyof typeof ExitCode];
      expect(rows.find((r) => r.codes.includes(exit))?.meaning, `${errorCode} on the row of exit ${exit}`).toContain(`\`${errorCode}\``);
    }
    expect(sorted(Array.from(README.matchAll(/RELAY_ERR_[A-Z_]+/g), (m) => m[0]))).toEqual(sorted(Object.values(ErrorCode)));
  });

  it('signals: the signal table lists exactly the signals the code handles', () => {
    const [table] = tablesHeaded('signal');
    expect(sorted(table?.rows.flatMap((row) => ticked(row[0] ?? '')) ?? [])).toEqual(handledSignals());
  });

  it('the development tree names every source file and test folder, and nothing that is gone', () => {
    const tree = codeBlockAfter('## Development');
    const sources = files(join(ROOT, 'src')).map((f) => relative(join(ROOT, 'src'), f));
    for (const file of sources) {
      const [dir, name] = file.includes('/') ? [file.slice(0, file.lastIndexOf('/') + 1), file.slice(file.lastIndexOf('/') + 1)] : ['', file];
      if (dir !== '') expect(tree, `src/${dir} in the tree`).toMatch(new RegExp(`^  ${dir}`, 'm'));
      expect(tree, `src/${file} in the tree`).toMatch(new RegExp(`\\b${name.replaceAll('.', '\\.')}\\b`));
    }
    const srcPart = tree.slice(0, tree.search(/^test\//m));
    const named = Array.from(srcPart.matchAll(/\b([\w-]+(?:\.d)?\.ts)\b/g), (m) => m[1] ?? '');
    const basenames = new Set(sources.map((f) => f.slice(f.lastIndexOf('/') + 1)));
    for (const name of named) expect(basenames, `${name} (named in the tree) exists in src/`).toContain(name);
    const testDirs = readdirSync(join(ROOT, 'test'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `test/${e.name}/`);
    expect(sorted(Array.from(tree.matchAll(/^(test\/\w+\/)/gm), (m) => m[1] ?? ''))).toEqual(sorted(testDirs));
  });
});
