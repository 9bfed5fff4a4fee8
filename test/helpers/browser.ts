// Debian's Chromium driven by playwright-core: one headless browser per test file, a fresh context (its own profile)
// per test. Pages are loaded from the relay first: Chromium refuses WebSockets to loopback from about:blank.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { onTestFinished } from 'vitest';

/** The Chromium binary (CHROMIUM_PATH overrides), or null when it is not installed. */
export const CHROMIUM: string | null = executable(process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium');

/** Where browser tests leave screenshots (gitignored; CI keeps it as an artefact). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium (playwright gives it a fresh temporary --user-data-dir). */
export function launchChromium(): Promise<Browser> {
  if (CHROMIUM === null) throw new Error('chromium is not installed');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 20_000 });
}

/** A fresh browser context for the current test, closed when it finishes. */
export async function freshContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 820, height: 460 } });
  onTestFinished(() => context.close());
  return context;
}

/** Opens `count` tabs on `url` (a page the relay serves). */
export async function openTabs(context: BrowserContext, url: string, count: number): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < count; i++) {
    const page = await context.newPage();
    await page.goto(url);
    pages.push(page);
  }
  return pages;
}

/** A path under ARTIFACTS for `name`, creating the folder. */
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return `${ARTIFACTS}${name}`;
}

function executable(path: string): string | null {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

/** What the in-page harness returns for one received message: text, or the bytes of a binary one. */
export type InPage = { text: string } | { bytes: number[] };

export interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly clean: boolean;
}

/**
 * Chromium's own WebSocket, driven from the test through a small harness installed in the page (through the
 * DevTools protocol, so the page's CSP, which forbids inline script, does not apply to it). Sockets are named.
 */
export class PageSockets {
  constructor(readonly page: Page) {}

  static async install(page: Page): Promise<PageSockets> {
    await page.evaluate(HARNESS);
    return new PageSockets(page);
  }

  /** Opens a WebSocket from the page back to the relay that served it; resolves once open. */
  open(name: string, path = '/'): Promise<void> {
    return this.page.evaluate(([n, p]) => (globalThis as unknown as WithHarness).relayHarness.open(n, p), [name, path] as const);
  }

  send(name: string, data: string | number[]): Promise<void> {
    return this.page.evaluate(([n, d]) => (globalThis as unknown as WithHarness).relayHarness.send(n, d), [name, data] as const);
  }

  /** Sends `prefix + i` for i in 0..count-1, as fast as the page can. */
  sendSequence(name: string, prefix: string, count: number): Promise<void> {
    return this.page.evaluate(([n, p, c]) => (globalThis as unknown as WithHarness).relayHarness.sendSequence(n, p, c), [name, prefix, count] as const);
  }

  /** Sends the deterministic pattern of `size` bytes (binary) or characters (text). */
  sendPattern(name: string, kind: 'text' | 'binary', size: number): Promise<void> {
    return this.page.evaluate(([n, k, s]) => (globalThis as unknown as WithHarness).relayHarness.sendPattern(n, k, s), [name, kind, size] as const);
  }

  /** Waits until `name` has received `count` messages and returns them all. */
  received(name: string, count: number, ms = 10_000): Promise<InPage[]> {
    return this.page.evaluate(([n, c, t]) => (globalThis as unknown as WithHarness).relayHarness.received(n, c, t), [name, count, ms] as const);
  }

  /** Waits until `name` has `count` messages and says whether the one at `index` is the pattern of `kind` and `size`. */
  receivedPattern(name: string, count: number, index: number, kind: 'text' | 'binary', size: number): Promise<boolean> {
    return this.page.evaluate(([n, c, i, k, s]) => (globalThis as unknown as WithHarness).relayHarness.receivedPattern(n, c, i, k, s), [name, count, index, kind, size] as const);
  }

  /** Resolves with the close event of `name`. */
  closed(name: string, ms = 10_000): Promise<Closed> {
    return this.page.evaluate(([n, t]) => (globalThis as unknown as WithHarness).relayHarness.closed(n, t), [name, ms] as const);
  }
}

interface Harness {
  open(name: string, path: string): Promise<void>;
  send(name: string, data: string | readonly number[]): void;
  sendSequence(name: string, prefix: string, count: number): void;
  sendPattern(name: string, kind: 'text' | 'binary', size: number): void;
  received(name: string, count: number, ms: number): Promise<InPage[]>;
  receivedPattern(name: string, count: number, index: number, kind: 'text' | 'binary', size: number): Promise<boolean>;
  closed(name: string, ms: number): Promise<Closed>;
}

/** The page's global object once PageSockets.install ran (the calls above run in the page, so they cast inline). */
interface WithHarness {
  relayHarness: Harness;
}

const HARNESS = `(() => {
  "use strict";
  const sockets = new Map();
  const get = (name) => {
    const s = sockets.get(name);
    if (!s) throw new Error('no socket ' + name);
    return s;
  };
  const TEXT = 'a\\u00e9\\u2713\\u{1F680}z';
  const pattern = (kind, size) => {
    if (kind === 'text') return TEXT.repeat(Math.ceil(size / TEXT.length)).slice(0, size);
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 255;
    return bytes;
  };
  const waitUntil = (s, done, ms, what) => new Promise((resolve, reject) => {
    const check = () => {
      if (done()) { clearTimeout(timer); s.wake.delete(check); resolve(); return true; }
      return false;
    };
    const timer = setTimeout(() => { s.wake.delete(check); reject(new Error('timed out after ' + ms + ' ms waiting for ' + what)); }, ms);
    if (!check()) s.wake.add(check);
  });
  globalThis.relayHarness = {
    open(name, path) {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path);
        ws.binaryType = 'arraybuffer';
        const s = { ws, inbox: [], closed: null, wake: new Set() };
        sockets.set(name, s);
        const wake = () => { for (const f of Array.from(s.wake)) f(); };
        ws.onmessage = (e) => { s.inbox.push(e.data); wake(); };
        ws.onclose = (e) => { s.closed = { code: e.code, reason: e.reason, clean: e.wasClean }; wake(); reject(new Error('closed before open: ' + e.code)); };
        ws.onopen = () => resolve();
      });
    },
    send(name, data) {
      get(name).ws.send(typeof data === 'string' ? data : new Uint8Array(data));
    },
    sendSequence(name, prefix, count) {
      const ws = get(name).ws;
      for (let i = 0; i < count; i++) ws.send(prefix + i);
    },
    sendPattern(name, kind, size) {
      get(name).ws.send(pattern(kind, size));
    },
    async received(name, count, ms) {
      const s = get(name);
      await waitUntil(s, () => s.inbox.length >= count || s.closed !== null, ms, count + ' messages on ' + name + ' (have ' + s.inbox.length + ')');
      if (s.inbox.length < count) throw new Error(name + ' closed (' + s.closed.code + ') with ' + s.inbox.length + '/' + count + ' messages');
      return s.inbox.map((d) => (typeof d === 'string' ? { text: d } : { bytes: Array.from(new Uint8Array(d)) }));
    },
    async receivedPattern(name, count, index, kind, size) {
      const s = get(name);
      await waitUntil(s, () => s.inbox.length >= count || s.closed !== null, 10000, count + ' messages on ' + name);
      const got = s.inbox[index];
      const want = pattern(kind, size);
      if (kind === 'text') return got === want;
      if (!(got instanceof ArrayBuffer) || got.byteLength !== size) return false;
      const bytes = new Uint8Array(got);
      for (let i = 0; i < size; i++) if (bytes[i] !== want[i]) return false;
      return true;
    },
    async closed(name, ms) {
      const s = get(name);
      await waitUntil(s, () => s.closed !== null, ms, 'the close of ' + name);
      return s.closed;
    },
  };
})()`;
