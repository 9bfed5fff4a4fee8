// Part of the command line, imported first by cli.ts: installs the process's signal listeners before the rest of the
// relay is evaluated, so no handled signal meets Node's default action during startup. Above all SIGUSR1, whose
// default on Node 20 opens the inspector on 127.0.0.1:9229 (a debugger any local process could use to run code in
// the relay); a listener of our own replaces that default. Signals that arrive before the CLI takes them are queued.

/** Every signal the relay gives a meaning to; the README's signal table mirrors cli.ts's handling of each. */
export const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
export type HandledSignal = (typeof HANDLED_SIGNALS)[number];

let handler: ((signal: HandledSignal) => void) | null = null;
const early: HandledSignal[] = [];

for (const signal of HANDLED_SIGNALS) {
  process.on(signal, () => {
    if (handler === null) early.push(signal);
    else handler(signal);
  });
}

/** Routes every handled signal to `h`, starting with those that arrived before this call. */
export function onSignals(h: (signal: HandledSignal) => void): void {
  handler = h;
  for (const signal of early.splice(0)) h(signal);
}
