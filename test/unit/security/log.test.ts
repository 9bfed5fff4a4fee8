import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { ThrottledLog } from '../../../src/security/log.js';

function capture(): { lines: () => Record<string, unknown>[]; sink: Writable } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { sink, lines: () => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('ThrottledLog', () => {
  it('writes at most one line per reason per interval, reporting how many it held back', () => {
    const { sink, lines } = capture();
    let now = 0;
    const log = new ThrottledLog(createLogger('info', sink), 1000, () => now);
    for (let i = 0; i < 100; i++) log.info('auth', { ip: '1.2.3.4' }, 'upgrade refused');
    log.info('origin', { ip: '1.2.3.4' }, 'upgrade refused');
    now = 999;
    log.info('auth', {}, 'upgrade refused');
    now = 1000;
    log.info('auth', {}, 'upgrade refused');
    expect(lines().map((l) => [l['reason'], l['suppressed']])).toEqual([
      ['auth', 0],
      ['origin', 0],
      ['auth', 100],
    ]);
  });
});
