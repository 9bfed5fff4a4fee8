// The layering the plug-in contracts promise, checked on the source text: plug-ins depend on the contracts, never on
// the hub or the composition root; the contracts are types only; only the CLI and the package entry import app.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The relative module paths a file imports, resolved against src/ (e.g. "relay/hub.ts"). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return Array.from(text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g), (m) =>
    relative(SRC, join(file, '..', `${m[1] ?? ''}.ts`)).split('\\').join('/'),
  );
}

const files = sources().map((f) => ({ path: relative(SRC, f).split('\\').join('/'), imports: imports(f) }));

describe('architecture', () => {
  it('only the CLI and the package entry import app.ts', () => {
    expect(files.filter((f) => f.imports.includes('app.ts')).map((f) => f.path).sort()).toEqual(['cli.ts', 'index.ts']);
  });

  it('plug-ins (security/, cluster/) never import the hub or the composition root', () => {
    const plugins = files.filter((f) => f.path.startsWith('security/') || f.path.startsWith('cluster/'));
    expect(plugins.length).toBeGreaterThan(0);
    for (const f of plugins) expect(f.imports, f.path).not.toContain('relay/hub.ts');
  });

  it('contracts.ts is types only and imports nothing from the hub, the app or the plug-ins', () => {
    const text = readFileSync(join(SRC, 'contracts.ts'), 'utf8');
    for (const line of text.split('\n').filter((l) => l.startsWith('import '))) expect(line).toMatch(/^import type /);
    expect(text).not.toMatch(/^export (const|let|function|class|enum)\b/m);
    const contracts = files.find((f) => f.path === 'contracts.ts');
    for (const dep of contracts?.imports ?? []) expect(dep).toMatch(/^(config\/|logger\.ts|relay\/protocol\.ts)/);
  });
});
