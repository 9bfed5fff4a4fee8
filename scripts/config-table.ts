// Rewrites the configuration table in README.md from the schema (run after changing src/config/*).
// `--check` only reports whether the README is current (exit 1 if not).
import { readFileSync, writeFileSync } from 'node:fs';
import { configTable } from '../src/config/reference.js';

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';
const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const from = readme.indexOf(START);
const to = readme.indexOf(END);
if (from < 0 || to < from) throw new Error(`README.md has no ${START} ... ${END} block`);
const next = `${readme.slice(0, from + START.length)}\n${configTable()}\n${readme.slice(to)}`;
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md config table is out of date: run npm run docs:config');
    process.exit(1);
  }
} else if (next !== readme) {
  writeFileSync(path, next);
  console.log('README.md config table updated');
}
