// Audience: subscriber counts per topic from uWS's subscription events, and the Room each socket keeps.
import { describe, expect, it } from 'vitest';
import { Audience, NO_ROOM } from '../../src/relay/audience.js';

describe('Audience', () => {
  it('hands every subscriber of a topic the same Room, which follows the counts', () => {
    const audience = new Audience();
    const first = audience.add('/a', 1).room;
    const second = audience.add('/a', 1).room;
    expect(second).toBe(first);
    expect(first.subscribers).toBe(2);
    expect(audience.size('/a')).toBe(2);
    expect(audience.add('/a', -1).before).toBe(2);
    expect(first.subscribers).toBe(1);
    expect(audience.add('/b', 1).room).not.toBe(first);
    expect(audience.topics).toBe(2);
  });

  it('forgets an emptied topic, and its next subscriber starts a fresh Room', () => {
    const audience = new Audience();
    const old = audience.add('/a', 1).room;
    audience.add('/a', -1);
    expect(old.subscribers).toBe(0);
    expect(audience.size('/a')).toBe(0);
    expect(audience.topics).toBe(0);
    const fresh = audience.add('/a', 1).room;
    expect(fresh).not.toBe(old);
    expect(fresh.subscribers).toBe(1);
  });

  it('never writes the placeholder a socket holds before its subscription', () => {
    const audience = new Audience();
    expect(audience.add('/never', 0).room).toBe(NO_ROOM);
    expect(NO_ROOM.subscribers).toBe(0);
    expect(audience.size('/never')).toBe(0);
  });
});
