// Close classification and topic naming: pure rules the hub and the metrics rely on.
import { describe, expect, it } from 'vitest';
import { classifyClose, CloseCode, RELAY_TOPIC, topicFor, type CloseFacts } from '../../src/relay/protocol.js';

const base: CloseFacts = { decided: null, code: 1006, message: '', bufferedBytes: 0, droppedMessages: 0, maxBackpressureBytes: 1024 };

describe('classifyClose', () => {
  it('keeps the reason the relay decided itself', () => {
    expect(classifyClose({ ...base, decided: 'shutdown', code: 1001 })).toBe('shutdown');
    expect(classifyClose({ ...base, decided: 'rate_limited', code: 1008 })).toBe('rate_limited');
  });

  it('any close frame from the client is client_close, whatever its code', () => {
    expect(classifyClose({ ...base, code: 1000 })).toBe('client_close');
    expect(classifyClose({ ...base, code: 4000, message: 'bye' })).toBe('client_close');
    expect(classifyClose({ ...base, code: CloseCode.internalError })).toBe('client_close');
    expect(classifyClose({ ...base, code: 1005 })).toBe('client_close');
  });

  it('tells a slow consumer from a TCP drop by the bytes still queued', () => {
    expect(classifyClose({ ...base, bufferedBytes: 2048 })).toBe('slow_consumer');
    expect(classifyClose({ ...base, bufferedBytes: 1024 })).toBe('slow_consumer');
    expect(classifyClose({ ...base, bufferedBytes: 100 })).toBe('client_close');
  });

  it('uWS 20.57: a TCP FIN is a client_close unless uWS reported drops for the socket (a slow consumer)', () => {
    const fin = { ...base, message: 'Received TCP FIN before WebSocket close frame' };
    expect(classifyClose(fin)).toBe('client_close');
    expect(classifyClose({ ...fin, droppedMessages: 1 })).toBe('slow_consumer');
    expect(classifyClose({ ...base, droppedMessages: 3 })).toBe('slow_consumer');
    expect(classifyClose({ ...base, message: 'Received invalid WebSocket frame' })).toBe('protocol_error');
  });

  it("maps uWS's own drop reasons", () => {
    expect(classifyClose({ ...base, message: 'Received too big message' })).toBe('payload_too_big');
    expect(classifyClose({ ...base, message: 'Received invalid UTF-8' })).toBe('invalid_utf8');
    expect(classifyClose({ ...base, message: 'WebSocket timed out from inactivity' })).toBe('idle_timeout');
    expect(classifyClose({ ...base, message: 'some other uWS reason' })).toBe('protocol_error');
  });
});

describe('topicFor', () => {
  it('is the path with rooms on, the shared topic otherwise', () => {
    expect(topicFor('/chat/a', true)).toBe('/chat/a');
    expect(topicFor('/chat/a', false)).toBe(RELAY_TOPIC);
  });
});
