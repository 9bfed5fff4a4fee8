// Reads the README's tables and code blocks, so tests can hold them against the code.
import { readFileSync } from 'node:fs';

export const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

export interface Table {
  /** Header cells, as written. */
  readonly header: readonly string[];
  /** Body rows: cells as written (an escaped `\|` stays in its cell). */
  readonly rows: readonly (readonly string[])[];
}

/** Every Markdown table outside fenced code blocks. */
export function tables(markdown = README): Table[] {
  const out: Table[] = [];
  let lines: string[][] = [];
  let fenced = false;
  const flush = (): void => {
    if (lines.length >= 2) out.push({ header: lines[0] ?? [], rows: lines.slice(2) });
    lines = [];
  };
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (!fenced && line.startsWith('|')) {
      lines.push(line.replace(/^\|/, '').replace(/\|\s*$/, '').split(/(?<!\\)\|/).map((cell) => cell.trim()));
    } else flush();
  }
  flush();
  return out;
}

/** The tables whose first header cell is `first`. */
export function tablesHeaded(first: string, markdown = README): Table[] {
  return tables(markdown).filter((t) => t.header[0] === first);
}

/** The `code spans` of a cell, in order. */
export function ticked(cell: string): string[] {
  return Array.from(cell.matchAll(/`([^`]+)`/g), (m) => m[1] ?? '');
}

/** The body of the first fenced code block after the heading `heading` (e.g. "## Development"). */
export function codeBlockAfter(heading: string, markdown = README): string {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no heading ${heading}`);
  const open = markdown.indexOf('```', at);
  const body = markdown.indexOf('\n', open) + 1;
  return markdown.slice(body, markdown.indexOf('```', body));
}
