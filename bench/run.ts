// Bench entry point (npm run bench): the only file that reads argv, writes results and sets the exit code.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { planCpus } from './cpus.js';
import { killAll } from './children.js';
import { buildLoadgen } from './loadgen/build.js';
import { describeMachine } from './machine.js';
import { DEFAULT_PEERS, peerNamesFor, selectPeers } from './peers/catalog.js';
import { externalPeer } from './peers/external.js';
import type { Peer, RelayVariant } from './peers/types.js';
import { checkFiles, checkTrials } from './quick-checks.js';
import { renderHtml } from './report/html.js';
import { renderMarkdown } from './report/markdown.js';
import { describe, flags, renderReport } from './report/table.js';
import { ALL, QUICK_SLOW, SLOW, selectScenarios, splitSlow } from './scenarios.js';
import type { Scenario } from './scenarios.js';
import { RESULTS_DIR } from './paths.js';
import { renderSlowTable } from './slow/report.js';
import { checkSlowRuns, runSlowSuite } from './slow/suite.js';
import { runSuite } from './suite.js';
import { ratios, summarize } from './summary.js';
import { evaluateTargets } from './targets.js';

/** Exit codes: 0 done, 1 harness failure (quick checks, or nothing could run), 2 bad usage. */
const EXIT_HARNESS = 1;
const EXIT_USAGE = 2;

async function main(): Promise<number> {
  // `npm run bench | head` closes stdout early; that is the reader's choice, not a bench failure.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const argv = await yargs(hideBin(process.argv))
    .scriptName('npm run bench --')
    .option('scenario', { type: 'string', describe: 'comma list of scenario names, or default | all | quick | cluster | users | rooms | scale | soak | tls | slow' })
    .option('repeat', { type: 'number', describe: 'rounds per scenario (default 3, 1 with --quick)' })
    .option('peers', {
      type: 'string',
      describe: `comma list of peers (default ${DEFAULT_PEERS.join(',')}; cluster scenarios name their own: relay,relay-cluster; --quick adds relay-cluster)`,
    })
    .option('url', { type: 'string', describe: 'measure an already running server at ws://127.0.0.1:PORT/ (or wss://, certificate not verified) instead of starting peers' })
    .option('quick', { type: 'boolean', default: false, describe: 'tiny runs that check the harness; exits 1 on a harness failure' })
    .option('out', { type: 'string', default: RESULTS_DIR, describe: 'directory for the JSON and HTML results' })
    .option('list', { type: 'boolean', default: false, describe: 'list the scenarios and exit' })
    .option('relay-node-flags', { type: 'string', describe: 'node flags for every relay process, e.g. "--max-semi-space-size=1" (to measure V8 settings)' })
    .option('relay-env', { type: 'string', array: true, describe: 'KEY=VALUE added to every relay process\'s environment (repeatable), e.g. MALLOC_ARENA_MAX=2' })
    .option('server-cpus', {
      type: 'number',
      default: 1,
      describe: 'cores the server is pinned to (the last ones; the load generator gets the rest): give relay-w2/relay-w4/relay (auto) their cores',
    })
    .option('cpu-prof', { type: 'boolean', default: false, describe: 'write a V8 CPU profile of every Node server run (node --cpu-prof) next to the results' })
    .strict()
    .fail((message, err) => {
      throw err ?? new UsageError(message);
    })
    .parseAsync();

  if (argv.list) {
    const width = Math.max(...ALL.map((s) => s.name.length)) + 1;
    for (const s of ALL) console.log(`${s.name.padEnd(width)} ${describe(s)}${s.peers ? ` (peers: ${s.peers.join(', ')})` : ''}`);
    for (const s of [...SLOW, ...QUICK_SLOW]) console.log(`${s.name.padEnd(width)} ${s.stalled} ${s.stalledRead ? 'reading' : 'stalled'} beside ${s.healthy} healthy, ${s.payloadBytes} B at ${s.rateMsgsPerS}/s for ${s.seconds} s (bench/slow/)`);
    return 0;
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const repeat = argv.repeat ?? (argv.quick ? 1 : 3);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 50) throw new UsageError('--repeat must be an integer from 1 to 50');
  const { slow, rest } = splitSlow(argv.scenario ?? (argv.quick ? 'quick' : 'default'));
  const scenarios = selectScenarios(rest);
  const external = argv.url ? externalPeer(argv.url) : null;
  const namesFor = (s: Scenario): string[] => (external ? [external.name] : peerNamesFor(s, argv.peers, argv.quick));
  const requested: Peer[] = external ? [external] : selectPeers([...new Set(scenarios.flatMap(namesFor))].join(','));

  const notes: string[] = [];
  const peers: Peer[] = [];
  for (const peer of requested) {
    const why = await peer.unavailable();
    if (why === null) peers.push(peer);
    else notes.push(`${peer.name} not run: ${why}`);
  }
  const roomless = new Set<string>();
  const peersFor = (s: Scenario): Peer[] =>
    namesFor(s)
      .flatMap((name) => peers.filter((p) => p.name === name))
      .filter((p) => {
        if (s.rooms === undefined || p.rooms === true) return true;
        roomless.add(p.name);
        return false;
      });
  for (const s of scenarios) peersFor(s);
  for (const name of roomless) notes.push(`${name} not run in rooms scenarios: it has one topic for everyone`);
  notes.forEach((n) => log(n));
  const serverCpus = argv['server-cpus'];
  if (!Number.isInteger(serverCpus) || serverCpus < 1) throw new UsageError('--server-cpus must be a whole number of cores, at least 1');
  const cpus = await planCpus(serverCpus);
  notes.push(cpus.note);
  log(cpus.note);
  const loadgen = scenarios.length ? await buildLoadgen() : '';
  const machine = await describeMachine(cpus.note);
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/[:.]/g, '-');
  const loadAtStart = loadavg();
  const profileDir = argv['cpu-prof'] ? path.join(argv.out, `profiles-${stamp}`) : null;
  if (profileDir) notes.push(`CPU profiles of the Node servers: ${path.relative(process.cwd(), profileDir)}`);

  const relay = relayVariant(argv['relay-node-flags'], argv['relay-env']);
  if (relay) notes.push(`relay processes started with${relay.nodeFlags.length ? ` node ${relay.nodeFlags.join(' ')}` : ''}${Object.entries(relay.env).map(([k, v]) => ` ${k}=${v}`).join('')}`);
  const trials = peers.length ? await runSuite({ scenarios, peersFor, repeat, loadgen, cpus, profileDir, log, ...(relay ? { relay } : {}) }) : [];
  const summaries = summarize(trials);
  const runtimes = new Map<string, Set<string>>();
  for (const t of trials) if (t.runtime !== undefined) (runtimes.get(t.peer) ?? runtimes.set(t.peer, new Set()).get(t.peer)!).add(t.runtime);
  if (runtimes.size) notes.push(`peers ran on: ${Array.from(runtimes, ([peer, r]) => `${peer} ${Array.from(r).join(' / ')}`).join('; ')}`);
  const slowRuns = slow.length && !external ? await runSlowSuite({ scenarios: slow, peers: argv.peers, repeat, cpus, profileDir, log, ...(relay ? { relay } : {}) }) : { runs: [], notes: [] };
  if (slow.length && external) notes.push('slow-consumer scenarios not run against --url: they start their own peers');
  notes.push(...slowRuns.notes);
  const ratioList = ratios(trials);
  // Quick runs are too small for the targets to mean anything.
  const targets = argv.quick ? [] : evaluateTargets(scenarios, summaries, ratioList);
  if (scenarios.length) console.log(renderReport(scenarios, summaries, ratioList, targets));
  if (slowRuns.runs.length) console.log(`\nslow consumers (bench/slow/):\n${renderSlowTable(slowRuns.runs)}`);
  notes.push(`load average (1 min) ${loadAtStart[0]?.toFixed(2)} at start, ${loadavg()[0]?.toFixed(2)} at end, on ${cpus.cores} cores`);
  if (notes.length) console.log(`\nnotes:\n${notes.map((n) => `  ${n}`).join('\n')}`);

  mkdirSync(argv.out, { recursive: true });
  const jsonPath = path.join(argv.out, `${argv.quick ? 'quick-' : ''}${stamp}.json`);
  const htmlPath = path.join(argv.out, `${argv.quick ? 'quick-' : ''}${stamp}.html`);
  const document = {
    version: 1,
    startedAt,
    machine,
    options: { repeat, quick: argv.quick, url: argv.url ?? null },
    notes,
    scenarios,
    trials,
    summaries,
    ratios: ratioList,
    targets,
    slow: { scenarios: slow, runs: slowRuns.runs },
  };
  writeFileSync(jsonPath, `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(htmlPath, renderHtml({ title: 'websocket-relay fan-out bench', startedAt, machine, notes, scenarios, trials, summaries, ratios: ratioList, targets }));
  const mdPath = path.join(argv.out, `${argv.quick ? 'quick-' : ''}${stamp}.md`);
  const slowMd = slowRuns.runs.length ? `\n## Slow consumers\n\n${renderSlowTable(slowRuns.runs)}\n` : '';
  writeFileSync(mdPath, renderMarkdown(machine, summaries, ratioList, targets, flags, scenarios) + slowMd);
  console.log(`\nresults: ${path.relative(process.cwd(), jsonPath)}\nreport:  ${path.relative(process.cwd(), htmlPath)}\nmarkdown: ${path.relative(process.cwd(), mdPath)}`);

  if (!argv.quick) return trials.length || slowRuns.runs.length ? 0 : EXIT_HARNESS;
  const problems = [...checkTrials(trials), ...checkFiles(jsonPath, htmlPath, trials.length), ...checkSlowRuns(slow, slowRuns.runs)];
  if (problems.length) {
    console.log(`\nquick check FAILED:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    return EXIT_HARNESS;
  }
  console.log(`\nquick check passed: ${trials.length} runs, every message delivered once and in order, JSON and HTML well-formed; ${slowRuns.runs.length} slow-consumer runs`);
  return 0;
}

/** --relay-node-flags and --relay-env as a variant of the relay's start, or undefined when neither is given. */
function relayVariant(flags: string | undefined, env: readonly (string | number)[] | undefined): RelayVariant | undefined {
  if (flags === undefined && env === undefined) return undefined;
  const pairs = (env ?? []).map(String).map((kv) => {
    const at = kv.indexOf('=');
    if (at <= 0) throw new UsageError(`--relay-env wants KEY=VALUE, got "${kv}"`);
    return [kv.slice(0, at), kv.slice(at + 1)] as const;
  });
  return { nodeFlags: (flags ?? '').split(/\s+/).filter(Boolean), env: Object.fromEntries(pairs) };
}

/** Exit codes of a run stopped by a signal, as a shell reports them. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
for (const signal of Object.keys(SIGNAL_EXIT)) {
  process.once(signal, () => {
    killAll();
    process.exit(SIGNAL_EXIT[signal]);
  });
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const usage = err instanceof UsageError || (err instanceof Error && /^unknown (scenario|peer)/.test(err.message));
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = usage ? EXIT_USAGE : EXIT_HARNESS;
  },
);
