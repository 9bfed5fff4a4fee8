// Builds the effective configuration: defaults < YAML file < RELAY_* environment < CLI --set, validated once and frozen.
// Every problem becomes one line naming the key (and the variable or flag it came from).
import { accessSync, constants, readFileSync } from 'node:fs';
import { loadAll, YAMLException } from 'js-yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { securityFileProblems } from '../security/keys.js';
import { deepFreeze } from './freeze.js';
import { configReference } from './reference.js';
import { configSchema, type Config } from './schema.js';

/** Prefix of environment overrides: RELAY_SERVER__PORT=9000 sets server.port. */
export const ENV_PREFIX = 'RELAY_';
const NESTING = '__';

type Tree = Record<string, unknown>;

export interface LoadOptions {
  /** Path of the YAML file; null means defaults only. */
  file: string | null;
  /** Environment to read RELAY_* overrides from. */
  env?: Readonly<Record<string, string | undefined>>;
  /** `key.path=value` overrides from the command line; they win over everything. */
  set?: readonly string[];
}

/** Reads, merges, validates and freezes the configuration. Throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions): Config {
  const sources = new Map<string, string>();
  const tree: Tree = options.file === null ? {} : readYamlFile(options.file);
  if (options.file !== null) rejectPrototypeKeys(tree, [], options.file);
  for (const [path, value, source] of envOverrides(options.env ?? {})) {
    setPath(tree, path, value, source);
    sources.set(path.join('.'), source);
  }
  for (const [path, value, source] of cliOverrides(options.set ?? [])) {
    setPath(tree, path, value, source);
    sources.set(path.join('.'), source);
  }
  const parsed = configSchema.safeParse(tree);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => describeIssue(issue, sources)), { cause: parsed.error });
  }
  checkFiles(parsed.data);
  return deepFreeze(parsed.data);
}

/** Parses a YAML document into a plain object; an empty file is an empty object. */
export function parseYaml(text: string, name: string): Tree {
  let documents: unknown[];
  try {
    documents = loadAll(text);
  } catch (err) {
    if (err instanceof YAMLException) {
      const where = err.mark ? `:${err.mark.line + 1}:${err.mark.column + 1}` : '';
      throw new ConfigError([`${name}${where}: YAML syntax error: ${err.reason}`], { cause: err });
    }
    throw err;
  }
  if (documents.length > 1) throw new ConfigError([`${name}: expected one YAML document, found ${documents.length}`]);
  const doc = documents[0];
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError([`${name}: the top level must be a mapping of sections (server, relay, ...)`]);
  }
  return doc as Tree;
}

function readYamlFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`--config-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], {
      cause: err,
    });
  }
  return parseYaml(text, file);
}

/** RELAY_A__B=value → [['a','b'], decoded value, 'RELAY_A__B']. Only names with `__` count, so RELAY_HOME and such are left alone. */
export function envOverrides(env: Readonly<Record<string, string | undefined>>): [string[], unknown, string][] {
  const out: [string[], unknown, string][] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith(ENV_PREFIX) || !name.includes(NESTING)) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split(NESTING);
    out.push([path, decodeValue(raw, path, name), name]);
  }
  // By code unit, not localeCompare: the names are ASCII, and a collator would page in ICU's data (2 MB of RSS).
  return out.sort((a, b) => (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
}

function cliOverrides(items: readonly string[]): [string[], unknown, string][] {
  return items.map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError([`--set ${item}: expected key.path=value`]);
    const key = item.slice(0, eq);
    const path = key.split('.');
    return [path, decodeValue(item.slice(eq + 1), path, `--set ${key}`), `--set ${key}`];
  });
}

let stringKeys: ReadonlySet<string> | undefined;

/**
 * Values from env and flags are read as YAML (9000 → number, false → boolean, [a, b] → list), except for keys that
 * only take text: there the value is kept as written (unless quoted), so a passphrase of 123456 or a value with
 * ' #' stays intact.
 */
function decodeValue(raw: string, path: readonly string[], source: string): unknown {
  stringKeys ??= new Set(
    configReference()
      .filter((k) => k.types.includes('string') && k.types.every((t) => t === 'string' || t === 'null'))
      .map((k) => k.key),
  );
  const quoted = /^(["']).*\1$/s.test(raw);
  if (stringKeys.has(path.join('.')) && !quoted) return raw === 'null' ? null : raw;
  if (raw.trim() === '') return '';
  try {
    return parseYaml(`v: ${raw}`, source)['v'];
  } catch {
    return raw;
  }
}

/** Keys that would reach Object.prototype (or a constructor) instead of a config section. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Every source (file, env, flags) goes through this before anything is merged: a `__proto__` key would otherwise
 * walk into Object.prototype when overrides are merged, or reach code that copies config objects.
 * @throws ConfigError naming the key and its source
 */
function rejectPrototypeKeys(value: unknown, path: readonly string[], source: string): void {
  if (typeof value !== 'object' || value === null) return;
  for (const key of Object.keys(value)) {
    const at = [...path, key];
    if (FORBIDDEN_KEYS.has(key)) throw new ConfigError([`${at.join('.')}: "${key}" is not a configuration key (from ${source})`]);
    rejectPrototypeKeys((value as Tree)[key], at, source);
  }
}

/** @throws ConfigError when a path segment or a key inside `value` is a prototype key */
function setPath(tree: Tree, path: readonly string[], value: unknown, source: string): void {
  const bad = path.find((key) => FORBIDDEN_KEYS.has(key));
  if (bad !== undefined) throw new ConfigError([`${path.join('.')}: "${bad}" is not a configuration key (from ${source})`]);
  rejectPrototypeKeys(value, path, source);
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1] as string] = value;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  int: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  string: 'a string',
  array: 'a list',
  object: 'a mapping',
};

function describeIssue(issue: z.core.$ZodIssue, sources: ReadonlyMap<string, string>): string {
  const key = issue.path.map(String).join('.');
  const from = (path: string): string => {
    let source = sources.get(path);
    // an unknown section named by a variable: RELAY_FOO__BAR reports `foo`
    for (const [key, value] of sources) if (source === undefined && key.startsWith(`${path}.`)) source = value;
    return source ? ` (from ${source})` : '';
  };
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys
        .map((k) => {
          const full = key ? `${key}.${k}` : k;
          return `${full}: unknown key${from(full)}`;
        })
        .join('\n');
    case 'too_big':
      return `${key}: must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}${from(key)}`;
    case 'too_small':
      if (issue.origin === 'string') {
        return `${key}: ${Number(issue.minimum) <= 1 ? 'must not be empty' : `must be at least ${String(issue.minimum)} characters`}${from(key)}`;
      }
      if (issue.origin === 'array') return `${key}: must have at least ${String(issue.minimum)} items${from(key)}`;
      return `${key}: must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}${from(key)}`;
    case 'invalid_type':
      return `${key}: must be ${TYPE_NAMES[issue.expected] ?? `a ${issue.expected}`}${from(key)}`;
    case 'invalid_value':
      return `${key}: must be one of ${issue.values.map(String).join(', ')}${from(key)}`;
    default:
      return `${key}: ${issue.message}${from(key)}`;
  }
}

/**
 * Files named by the config must be usable before anything starts (uWS only says "App construction failed" for a
 * bad TLS file), so --check-config catches them too.
 */
function checkFiles(config: Config): void {
  const problems: string[] = [];
  for (const key of ['cert_file', 'key_file'] as const) {
    const file = config.server.tls[key];
    if (file === null) continue;
    try {
      accessSync(file, constants.R_OK);
      if (!readFileSync(file, 'utf8').includes('-----BEGIN ')) problems.push(`server.tls.${key}: ${file} is not a PEM file`);
    } catch (err) {
      problems.push(`server.tls.${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  problems.push(...securityFileProblems(config.security));
  if (problems.length > 0) throw new ConfigError(problems);
}
