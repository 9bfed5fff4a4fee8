// How a client reads what a server sends when it only needs the control frames: frame heads are parsed, payloads
// skipped (no copy), pings and the close frame reported. Plain JavaScript so that Node scripts (the flood fixture,
// the bench's held connections) and the TypeScript tests share it.
import { Buffer } from 'node:buffer';

/**
 * Returns a function to feed every chunk read after the handshake. `onPing` gets each ping's payload, `onClose` the
 * close frame's code (1005 when it has none).
 * @param {{ onPing?: (payload: Buffer) => void, onClose?: (code: number) => void }} handlers
 * @returns {(chunk: Buffer) => void}
 */
export function frameHeads({ onPing, onClose }) {
  let pending = Buffer.alloc(0);
  let skip = 0;
  return (chunk) => {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      return;
    }
    let buf = pending.length > 0 ? Buffer.concat([pending, chunk.subarray(skip)]) : chunk.subarray(skip);
    skip = 0;
    while (buf.length >= 2) {
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) break;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) break;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (opcode === 8 || opcode === 9) {
        if (buf.length < at + len) break;
        if (opcode === 9) onPing?.(buf.subarray(at, at + len));
        else onClose?.(len >= 2 ? buf.readUInt16BE(at) : 1005);
      } else if (buf.length < at + len) {
        skip = at + len - buf.length;
        buf = Buffer.alloc(0);
        break;
      }
      buf = buf.subarray(at + len);
    }
    pending = Buffer.from(buf);
  };
}

/**
 * The pong a client answers `ping` with: its payload echoed, masked with a zero key (so unchanged).
 * @param {Buffer} payload at most 125 bytes, as in any ping
 * @returns {Buffer}
 */
export function pongFor(payload) {
  return Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}
