// How many WebSockets the open-file limit allows: RLIMIT_NOFILE minus what the process needs besides them.
// Pure arithmetic; the numbers come from files.ts at startup.

/** Descriptors kept for Redis (two connections, and their replacements while reconnecting), metrics scrapes and files. */
export const SPARE_FDS = 16;
/** Descriptors the relay holds as ballast and gives back when the table fills (see listener.ts). */
export const BALLAST_FDS = 16;
/** Share of the limit kept for connections still in their HTTP handshake (bounded below and above). */
const HANDSHAKE_SHARE = 0.1;
const MIN_HANDSHAKE_FDS = 32;
const MAX_HANDSHAKE_FDS = 1024;

export interface FileBudget {
  /** RLIMIT_NOFILE (soft). */
  readonly limit: number;
  /** Descriptors open before any client: stdio, event loop, listen sockets, metrics server. */
  readonly baseline: number;
  /** Kept for Redis, scrapes, files and the ballast. */
  readonly spare: number;
  /** Kept for connections accepted but still in their HTTP handshake (each holds a descriptor too). */
  readonly handshakes: number;
  /** What is left for open WebSockets: the derived `limits.max_connections`. At least 1. */
  readonly maxConnections: number;
}

/** Splits `limit` descriptors between the process itself, handshakes in flight and open WebSockets. */
export function fileBudget(limit: number, baseline: number): FileBudget {
  const spare = SPARE_FDS + BALLAST_FDS;
  const handshakes = Math.min(MAX_HANDSHAKE_FDS, Math.max(MIN_HANDSHAKE_FDS, Math.round(limit * HANDSHAKE_SHARE)));
  return { limit, baseline, spare, handshakes, maxConnections: Math.max(1, limit - baseline - spare - handshakes) };
}
