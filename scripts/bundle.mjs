// Bundles the relay's three process and thread entries into dist/ after `tsc` has built the library there:
// dist/cli.js (the command, replacing tsc's), dist/thread.js (a uWS worker thread) and dist/loader-process.js (the
// configuration loader), with the modules they share in dist/chunk-*.js. The main thread then loads 9 files instead
// of 170 modules (the relay's, pino, prom-client and their dependencies), which saves 6-7 MB of resident memory per
// process and per thread (README, "Memory"). Dynamic imports stay separate chunks, so what the relay
// loads only when configured (the schema and YAML in the loader, jose, ioredis) stays unloaded otherwise.
//
// Every output sits at dist/'s top level: the modules that resolve a path from their own URL (the version from
// ../package.json, ./thread.js, ./loader-process.js) find the same files from a chunk as from tsc's dist/*.js.
// uWebSockets.js is loaded by name at run time (src/relay/uws.ts) and stays in node_modules.
//
//   node scripts/bundle.mjs     (part of `npm run build`)
import { build } from 'esbuild';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';

// Chunks are named by their content: the previous build's would stay beside the new ones.
for (const file of readdirSync('dist')) if (file.startsWith('chunk-')) rmSync(`dist/${file}`);

// Node's built-in modules are imported as CommonJS, not as ES modules. An ES module namespace of a built-in is
// filled when it is imported, which reads every export, and with them the lazy ones: `node:crypto` loads WebCrypto,
// others load http2, undici and web streams. On Node 24 that cost 6 MB of resident memory in each thread; a
// required built-in loads what is used only. It is taken with process.getBuiltinModule where node has it (20.16 and
// 22.3 on), else with `require`, the same CommonJS exports: Node 22.0-22.2 are within package.json's engines.
const BUILTIN = new RegExp(`^(node:.+|${builtinModules.join('|')})$`);
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: BUILTIN }, (args) => (args.kind === 'import-statement' ? { path: args.path.replace(/^node:/, ''), namespace: 'builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('node:${args.path}') : require('node:${args.path}');`,
      loader: 'js',
    }));
  },
};

const result = await build({
  // cli-signals is an entry of its own so that its chunk is cli.js's first import, evaluated before any other: the
  // signal listeners exist before pino, prom-client or the relay's modules run (src/cli-signals.ts).
  entryPoints: { 'cli-signals': 'src/cli-signals.ts', cli: 'src/cli.ts', thread: 'src/workers/thread.ts', 'loader-process': 'src/config/loader-process.ts' },
  outdir: 'dist',
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  sourcemap: 'linked',
  // The maps give src/ and node_modules/ lines (README, "Command line") without a copy of those sources: 2.4 of
  // dist/'s 6.9 MB and 0.5 of the packed 1.3 MB.
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
  // pino and prom-client are CommonJS and require node's built-ins; an ES module has no `require` of its own.
  plugins: [builtinsByRequire],
  banner: { js: "import { createRequire as __relayRequire } from 'node:module'; const require = __relayRequire(import.meta.url);" },
});

// Which sources each output holds: tests map the files a process loaded back to the modules in them.
const outputs = Object.fromEntries(
  Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, output]) => [file.replace(/^dist\//, ''), Object.keys(output.inputs)]),
);
writeFileSync('dist/bundle.json', `${JSON.stringify(outputs, null, 1)}\n`);
