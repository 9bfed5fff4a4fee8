// Node peers are TypeScript; they run as plain ESM transpiled on first use, so a server process is
// one `node` with no loader and no esbuild helper beside it to skew CPU and RSS.
import { readFileSync, writeFileSync } from 'node:fs';
import ts from 'typescript';
import { cachedBuild } from '../build-cache.js';

/** Path of `source` transpiled to an .mjs in bench/.build/ (imports resolve from the repo's node_modules). */
export function transpiled(name: string, source: string): Promise<string> {
  return cachedBuild(name, '.mjs', [source], (out) => {
    const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: source,
    });
    writeFileSync(out, outputText);
    return Promise.resolve();
  });
}
