// ConfigReloader.reload never throws, whatever a step does: it runs from a signal handler, where a throw ends the process.
import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/logger.js';
import { ConfigReloader } from '../../src/reload/reloader.js';

it('a step whose restartOnly throws refuses the reload instead of throwing, and nothing is committed', () => {
  const lines: string[] = [];
  const reloader = new ConfigReloader({
    config: defaultConfig(),
    logger: createLogger('info', { write: (line: string) => void lines.push(line) }),
    registry: new Registry(),
    payloadCeiling: 1 << 20,
  });
  let committed = false;
  reloader.add({
    name: 'plug-in',
    restartOnly: () => {
      throw new Error('plug-in bug');
    },
    prepare: () => ({ commit: () => (committed = true) }),
  });
  const result = reloader.reload('SIGHUP');
  expect(result.ok).toBe(false);
  expect(result.problems).toEqual(['unexpected error: plug-in bug']);
  expect(committed).toBe(false);
  expect(lines.some((l) => l.includes('configuration reload refused'))).toBe(true);
});
