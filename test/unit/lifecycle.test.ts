// Shutdown plumbing: closers run once, in reverse order, and one failure does not skip the rest.
import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/lifecycle.js';
import { createLogger } from '../../src/logger.js';
import { Readiness } from '../../src/metrics/server.js';

describe('Lifecycle', () => {
  it('runs closers in reverse order, once, however often close() is called', async () => {
    const order: string[] = [];
    const life = new Lifecycle(createLogger('silent'));
    life.add('first', () => void order.push('first'));
    life.add('second', async () => void order.push('second'));
    life.add('failing', () => {
      throw new Error('boom');
    });
    await Promise.all([life.close(), life.close(), life.close()]);
    await life.close();
    expect(order).toEqual(['second', 'first']);
    expect(life.closing).toBe(true);
  });
});

describe('Readiness', () => {
  it('is ready only while nothing blocks it, and says why not', () => {
    const r = new Readiness();
    expect(r.ready).toBe(true);
    r.block('backplane', 'redis unreachable');
    r.block('shutdown', 'draining');
    expect(r.ready).toBe(false);
    expect(r.describe()).toBe('backplane: redis unreachable\nshutdown: draining');
    r.unblock('backplane');
    r.unblock('shutdown');
    expect(r.ready).toBe(true);
  });
});
