// Types of frame-heads.mjs for the TypeScript tests.
export declare function frameHeads(handlers: { onPing?: (payload: Buffer) => void; onClose?: (code: number) => void }): (chunk: Buffer) => void;
export declare function pongFor(payload: Buffer): Buffer;
