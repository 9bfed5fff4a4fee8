// The command line: flags, --help and --version, on node:util's parser (a full CLI framework costs about 7 MB of
// RSS for four flags). Pure: the CLI prints and exits.
import { parseArgs as parseFlags } from 'node:util';
import { RELAY_VERSION } from './version.js';

export interface Args {
  readonly configFile: string | undefined;
  readonly checkConfig: boolean;
  readonly printConfig: boolean;
  /** `key.path=value` overrides, in the order given */
  readonly set: readonly string[];
}

/** What the command line asks for: run (or check/print) with these arguments, or just print a text. */
export type Command = { readonly run: Args } | { readonly print: string };

/** A command line the relay does not understand; the message names the argument. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const HELP = `websocket-relay [--config-file relay.yaml]

WebSocket fan-out relay: every message any client sends reaches every connected client.

Options:
  -c, --config-file PATH  YAML config file (defaults apply to every key it omits)
      --check-config      validate the configuration and exit (0 valid, 2 invalid)
      --print-config      print the effective configuration as YAML and exit
      --set KEY=VALUE     override one key, e.g. --set server.port=9000 (wins over RELAY_* env and the file); repeatable
  -h, --help              show this help and exit
      --version           print the version and exit
`;

/**
 * Parses argv (without node and the script).
 * @throws UsageError for an unknown flag, a missing value or a positional argument
 */
export function parseCommandLine(argv: readonly string[], version: () => string = () => RELAY_VERSION): Command {
  let values;
  try {
    ({ values } = parseFlags({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'config-file': { type: 'string', short: 'c' },
        'check-config': { type: 'boolean', default: false },
        'print-config': { type: 'boolean', default: false },
        set: { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(describe(err));
  }
  if (values.help) return { print: HELP };
  if (values.version) return { print: `${version()}\n` };
  return {
    run: {
      configFile: values['config-file'],
      checkConfig: values['check-config'],
      printConfig: values['print-config'],
      set: values.set,
    },
  };
}

/** node:util's messages, shortened to the argument at fault. */
function describe(err: unknown): string {
  const { code, message } = err as { code?: string; message?: string };
  const arg = /'([^']+)'/.exec(message ?? '')?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `Unknown argument: ${arg ?? message}`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `Unknown argument: ${arg ?? message}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `Missing or invalid value: ${message ?? ''}`;
  return message ?? String(err);
}
