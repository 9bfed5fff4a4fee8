// Every failure the relay reports, each with a stable code and the process exit code that goes with it.

/** Process exit codes; the README's exit-code table mirrors this. */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  config: 2,
  nativeBinding: 3,
  listen: 4,
  /** A graceful shutdown did not finish within shutdown.timeout_s; the watchdog dropped what was left. */
  shutdownTimeout: 5,
  /** A worker thread failed; the relay dropped every connection and exited rather than serve with a thread missing. */
  workerFailed: 6,
} as const;

/** Every error code the relay reports; the README lists each next to its exit code. */
export const ErrorCode = {
  config: 'RELAY_ERR_CONFIG',
  nativeBinding: 'RELAY_ERR_NATIVE_BINDING',
  listen: 'RELAY_ERR_LISTEN',
} as const;

/** Base class: `code` is stable (RELAY_ERR_*), `exitCode` is what the CLI exits with. */
export class RelayError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(message: string, code: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** The configuration is invalid; `problems` holds one line per problem, each naming the key or variable. */
export class ConfigError extends RelayError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(problems.join('\n'), ErrorCode.config, ExitCode.config, options);
    this.problems = problems;
  }
}

/** uWebSockets.js has no native build for this Node/platform and fell back to its slow JS server. */
export class NativeBindingError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ErrorCode.nativeBinding, ExitCode.nativeBinding, options);
  }
}

/** A listener could not bind (port in use, address not available, permission). */
export class ListenError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ErrorCode.listen, ExitCode.listen, options);
  }
}
