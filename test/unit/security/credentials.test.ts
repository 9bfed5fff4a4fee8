import { describe, expect, it } from 'vitest';
import { answerProtocol, extractCredential } from '../../../src/security/credentials.js';

describe('extractCredential', () => {
  it('reads Authorization: Bearer first', () => {
    expect(extractCredential({ authorization: 'Bearer abc', 'sec-websocket-protocol': 'bearer.xyz' }, 'token=q')).toEqual({ token: 'abc', protocol: '' });
    expect(extractCredential({ authorization: 'bearer   abc  ' }, '').token).toBe('abc');
  });

  it('then the token query parameter, URL-decoded', () => {
    expect(extractCredential({}, 'a=1&token=t%2Bk').token).toBe('t+k');
    expect(extractCredential({}, 'token=').token).toBeNull();
  });

  it('then a bearer.<token> subprotocol, answering the first other protocol', () => {
    expect(extractCredential({ 'sec-websocket-protocol': 'bearer.abc, relay, v2' }, '')).toEqual({ token: 'abc', protocol: 'relay' });
    expect(extractCredential({ 'sec-websocket-protocol': 'bearer.abc' }, '')).toEqual({ token: 'abc', protocol: '' });
  });

  it('ignores other schemes and empty credentials', () => {
    expect(extractCredential({ authorization: 'Basic dXNlcjpwYXNz' }, '').token).toBeNull();
    expect(extractCredential({ 'sec-websocket-protocol': 'bearer.' }, '').token).toBeNull();
    expect(extractCredential({}, '')).toEqual({ token: null, protocol: '' });
  });

  it('answerProtocol never answers a credential', () => {
    expect(answerProtocol({ 'sec-websocket-protocol': 'bearer.secret' })).toBe('');
    expect(answerProtocol({ 'sec-websocket-protocol': 'bearer.secret,chat' })).toBe('chat');
    expect(answerProtocol({})).toBe('');
  });
});
