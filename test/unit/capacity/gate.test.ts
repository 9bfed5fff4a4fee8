import { describe, expect, it, vi } from 'vitest';
import { CapacityGate, connectionCap } from '../../../src/capacity/gate.js';

describe('connection cap', () => {
  it('is the smaller of limits.max_connections and what the open-file limit allows, named after it', () => {
    expect(connectionCap(0, 300)).toEqual({ max: 300, reason: 'file_limit' });
    expect(connectionCap(100, 300)).toEqual({ max: 100, reason: 'max_connections' });
    expect(connectionCap(500, 300)).toEqual({ max: 300, reason: 'file_limit' });
    expect(connectionCap(100, null)).toEqual({ max: 100, reason: 'max_connections' });
    expect(connectionCap(0, null)).toEqual({ max: Infinity, reason: 'max_connections' });
  });
});

describe('capacity gate', () => {
  it('refuses at the cap with 503 under the cap’s reason, and admits below it', () => {
    const gate = new CapacityGate({ max: 2, reason: 'file_limit' }, 5);
    expect(gate.check(1)).toBeNull();
    const refusal = gate.check(2);
    expect(refusal).toMatchObject({ ok: false, status: '503 Service Unavailable', reason: 'file_limit' });
    expect(gate.check(3)).toBe(refusal);
    expect(gate.checks).toBe(3);
  });

  it('refuses everything while overloaded, with Retry-After', () => {
    const gate = new CapacityGate({ max: Infinity, reason: 'max_connections' }, 5);
    gate.overloaded = true;
    expect(gate.check(0)).toMatchObject({ reason: 'overloaded', headers: { 'Retry-After': '5' } });
    gate.overloaded = false;
    expect(gate.check(0)).toBeNull();
  });

  it('reports reaching the cap once per episode, not once per refusal', () => {
    const onFull = vi.fn();
    const gate = new CapacityGate({ max: 1, reason: 'max_connections' }, 5, onFull);
    gate.check(1);
    gate.check(1);
    expect(onFull).toHaveBeenCalledTimes(1);
    gate.check(0);
    gate.check(1);
    expect(onFull).toHaveBeenCalledTimes(2);
  });
});
