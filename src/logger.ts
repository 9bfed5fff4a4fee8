// Structured JSON logs (pino). The destination is injectable so tests can read what was logged.
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Children of a root logger, kept so a level change (a config reload) reaches the rooms' loggers too. */
const CHILDREN = Symbol('websocket-relay.children');
type Tracked = Logger & { [CHILDREN]?: Set<WeakRef<Logger>> };

/** Creates the root logger; rooms take `logger.child({ room })`. Writes to stdout unless `destination` is given. */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  const children = new Set<WeakRef<Logger>>();
  const root: Tracked = pino(
    {
      level,
      base: { service: 'websocket-relay' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // pino copies the level into a child when it is made; later changes to the parent do not reach it.
      onChild: (child) => void children.add(new WeakRef(child)),
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
  root[CHILDREN] = children;
  return root;
}

/** Sets the level of `root` and of every child made from it (one made by createLogger; others get only their own). */
export function setLogLevel(root: Logger, level: LevelWithSilent): void {
  root.level = level;
  const children = (root as Tracked)[CHILDREN];
  if (children === undefined) return;
  for (const ref of children) {
    const child = ref.deref();
    if (child === undefined) children.delete(ref);
    else child.level = level;
  }
}

/** Writes a line another thread's logger produced (already JSON, newline-terminated) where `logger` writes. */
export function writeLine(logger: Logger, line: string): void {
  (logger as unknown as Record<symbol, { write(s: string): void }>)[pino.symbols.streamSym]?.write(line);
}
