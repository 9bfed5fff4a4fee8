import { describe, expect, it } from 'vitest';
import { TokenBucket, burstFor } from '../../../src/security/bucket.js';

describe('TokenBucket', () => {
  it('starts full, spends its burst, then refills at the rate', () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(bucket.take(1, 0)).toBe(true);
    expect(bucket.take(1, 0)).toBe(false);
    expect(bucket.take(1, 99)).toBe(false); // 0.99 of a token
    expect(bucket.take(1, 100)).toBe(true); // 100 ms = 1 token at 10/s
    expect(bucket.take(1, 100)).toBe(false);
    expect(bucket.take(1, 200)).toBe(true);
  });

  it('never holds more than the burst', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect(bucket.refill(60_000)).toBe(3);
  });

  it('refuses a spend it cannot cover, without spending anything', () => {
    const bucket = new TokenBucket(1000, 1000, 0);
    expect(bucket.take(600, 0)).toBe(true);
    expect(bucket.take(600, 0)).toBe(false);
    expect(bucket.take(400, 0)).toBe(true);
  });

  it('lets a cost above the burst through only from a full bucket, leaving a debt', () => {
    const bucket = new TokenBucket(1000, 1000, 0);
    expect(bucket.take(3000, 0)).toBe(true);
    expect(bucket.refill(0)).toBe(-2000);
    expect(bucket.take(1, 2000)).toBe(false); // back to 0 tokens after 2 s
    expect(bucket.take(3000, 3000)).toBe(true); // full again after 3 s
  });

  it('ignores a clock that goes backwards', () => {
    const bucket = new TokenBucket(1, 1, 1000);
    expect(bucket.take(1, 1000)).toBe(true);
    expect(bucket.take(1, 0)).toBe(false);
  });

  it('burstFor: the configured burst, else one second’s worth, at least 1', () => {
    expect(burstFor(10, 25)).toBe(25);
    expect(burstFor(10, 0)).toBe(10);
    expect(burstFor(0.5, 0)).toBe(1);
  });
});
