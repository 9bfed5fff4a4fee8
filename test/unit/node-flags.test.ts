// The relay's node flags are part of its start command in four places; they must agree, or the bench would
// measure a relay no user runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RELAY_NODE_FLAGS } from '../../bench/peers/relay.js';

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

describe('node flags of the start command', () => {
  const flags = RELAY_NODE_FLAGS.join(' ');

  it('keep V8 young generation small (see README "Memory")', () => {
    expect(RELAY_NODE_FLAGS).toContain('--max-semi-space-size=1');
  });

  it('are the same in npm start, the bin shebang, the image entrypoint and the bench relay peer', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${flags} dist/cli.js --config-file config/relay.yaml`);
    expect(read('src/cli.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(read('Dockerfile'))?.[1];
    // The image (Node 24) adds --disable-sigusr1, which Node 20 refuses: npm start and the shebang run on both.
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['node', '--disable-sigusr1', ...RELAY_NODE_FLAGS, '/app/dist/cli.js']);
  });
});
