// Chromium's own WebSocket through the relay (Debian's chromium driven by playwright-core): UTF-8 text and binary,
// a 60 KB message, a clean 1009 for an over-limit sender while another tab keeps receiving, per-sender order, 1001 for
// every tab on SIGTERM, and the demo page used the way a person would.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { artifact, CHROMIUM, freshContext, launchChromium, openTabs, PageSockets, type InPage } from '../helpers/browser.js';
import { listening, runCli } from '../helpers/cli.js';
import { startRelay } from '../helpers/relay.js';
import { describeNeeding } from '../helpers/required.js';
import { within } from '../helpers/wait.js';

const pageUrl = (wsUrl: string): string => `${wsUrl.replace(/^ws/, 'http')}/`;
const texts = (inbox: InPage[]): string[] => inbox.map((m) => ('text' in m ? m.text : `bin:${m.bytes.join(',')}`));
/** Text of the in-page pattern ('aé✓🚀z' repeated): 6 UTF-16 units, 11 UTF-8 bytes per repeat. */
const textUnitsFor = (utf8Bytes: number): number => 6 * Math.floor(utf8Bytes / 11);

const MISSING = CHROMIUM === null ? 'chromium not installed (apt-get install chromium; .ci/run installs it; CHROMIUM_PATH overrides)' : null;
describeNeeding(MISSING, 'Chromium through the relay', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('sends and receives UTF-8 text and binary, and 60 KB messages of both kinds', async () => {
    const relay = await startRelay({ server: { demo_page: true } });
    const tabs = await openTabs(await freshContext(browser), pageUrl(relay.url), 2);
    const [sa, sb] = (await Promise.all(tabs.map((t) => PageSockets.install(t)))) as [PageSockets, PageSockets];
    await sa.open('a');
    await sb.open('b');

    await sa.send('a', 'héllo wörld ✓ 🚀 Ωμέγα 日本語');
    await sa.send('a', [0, 1, 2, 127, 128, 254, 255]);
    const got = await sb.received('b', 2);
    expect(texts(got)).toEqual(['héllo wörld ✓ 🚀 Ωμέγα 日本語', 'bin:0,1,2,127,128,254,255']);
    expect(texts(await sa.received('a', 2))).toEqual(texts(got)); // echo to the sender

    const SIXTY_KB = 60 * 1024;
    await sa.sendPattern('a', 'binary', SIXTY_KB);
    await sa.sendPattern('a', 'text', textUnitsFor(SIXTY_KB));
    expect(await sb.receivedPattern('b', 4, 2, 'binary', SIXTY_KB)).toBe(true);
    expect(await sb.receivedPattern('b', 4, 3, 'text', textUnitsFor(SIXTY_KB))).toBe(true);
  });

  it('closes an over-limit sender with a clean 1009 while another tab keeps receiving', async () => {
    const relay = await startRelay({ server: { demo_page: true } });
    const tabs = await openTabs(await freshContext(browser), pageUrl(relay.url), 3);
    const [big, other, talker] = await Promise.all(tabs.map((t) => PageSockets.install(t)));
    await big!.open('big');
    await other!.open('other');
    await talker!.open('talker');

    await big!.sendPattern('big', 'binary', relay.config.relay.max_payload_bytes + 1);
    expect(await big!.closed('big')).toEqual({ code: 1009, reason: 'message too big', clean: true });
    await talker!.send('talker', 'still here');
    expect(texts(await other!.received('other', 1))).toEqual(['still here']);
  });

  it('keeps each sender’s order over 1,000 messages', async () => {
    const relay = await startRelay({ server: { demo_page: true } });
    const tabs = await openTabs(await freshContext(browser), pageUrl(relay.url), 3);
    const [one, two, reader] = await Promise.all(tabs.map((t) => PageSockets.install(t)));
    await Promise.all([one!.open('one'), two!.open('two'), reader!.open('reader')]);

    const COUNT = 1000;
    await Promise.all([one!.sendSequence('one', 'one:', COUNT), two!.sendSequence('two', 'two:', COUNT)]);
    const got = texts(await reader!.received('reader', 2 * COUNT, 20_000));
    const sequence = (prefix: string): string[] => got.filter((t) => t.startsWith(prefix));
    expect(sequence('one:')).toEqual(Array.from({ length: COUNT }, (_, i) => `one:${i}`));
    expect(sequence('two:')).toEqual(Array.from({ length: COUNT }, (_, i) => `two:${i}`));
  });

  it('SIGTERM gives every tab a clean 1001, and the demo page shows it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-browser-'));
    const config = join(dir, 'relay.yaml');
    writeFileSync(config, 'server: { host: 127.0.0.1, port: 0, demo_page: true }\nmetrics: { host: 127.0.0.1, port: 0 }\nlog: { level: info }\n');
    const run = runCli(['-c', config]);
    const { ws_port } = await listening(run);
    const tabs = await openTabs(await freshContext(browser), `http://127.0.0.1:${ws_port}/`, 3);
    await Promise.all(tabs.map((t) => t.waitForSelector('#status[data-state="open"]')));
    const sockets = await Promise.all(tabs.map((t) => PageSockets.install(t)));
    await Promise.all(sockets.map((s, i) => s.open(`tab${i}`)));

    run.child.kill('SIGTERM');
    const closes = await Promise.all(sockets.map((s, i) => s.closed(`tab${i}`)));
    expect(closes).toEqual(Array.from({ length: 3 }, () => ({ code: 1001, reason: 'server shutting down', clean: true })));
    for (const tab of tabs) {
      await tab.waitForSelector('#status[data-state="closed"]');
      expect(await tab.getAttribute('#status', 'data-code')).toBe('1001');
      expect(await tab.textContent('#status')).toBe('closed with code 1001 (server shutting down)');
    }
    expect(await within(run.exited, 10_000, 'the relay to exit')).toBe(0);
  });

  it('demo page: what is typed in one tab appears in another', async () => {
    const relay = await startRelay({ server: { demo_page: true } });
    const context = await freshContext(browser);
    const errors: string[] = [];
    context.on('weberror', (e) => errors.push(String(e.error())));
    const [typist, watcher] = await openTabs(context, pageUrl(relay.url), 2);
    for (const tab of [typist!, watcher!]) {
      tab.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text()); // a CSP violation is reported here
      });
      await tab.waitForSelector('#status[data-state="open"]');
    }
    expect(await watcher!.textContent('#status')).toBe(`connected to ${relay.url}/`);

    for (const line of ['hello from the first tab', 'ünïcödé ✓ Ωμέγα', '<b>not bold</b>']) {
      await typist!.fill('#text', line);
      await typist!.press('#text', 'Enter');
    }
    // The binary comes from another socket, which may sit on another uWS thread: two senders keep no order between
    // them, so it is sent once the three lines are shown.
    await watcher!.waitForSelector('#log[data-count="3"]');
    const sockets = await PageSockets.install(typist!);
    await sockets.open('bin');
    await sockets.send('bin', [222, 173, 190, 239]);
    await watcher!.waitForSelector('#log[data-count="4"]');
    expect(await watcher!.locator('#log li').allTextContents()).toEqual([
      'hello from the first tab',
      'ünïcödé ✓ Ωμέγα',
      '<b>not bold</b>',
      'binary, 4 bytes: de ad be ef',
    ]);
    expect(await watcher!.locator('#log b').count()).toBe(0); // shown as text, never as HTML
    expect(await typist!.inputValue('#text')).toBe('');
    expect(errors).toEqual([]);
    const shot = artifact('demo-page.png');
    await watcher!.screenshot({ path: shot, fullPage: true });
    process.stderr.write(`demo page screenshot: ${shot}\n`);
    // DEMO_SCREENSHOT=docs/demo-page.png refreshes the README's picture
    if (process.env['DEMO_SCREENSHOT'] !== undefined) copyFileSync(shot, process.env['DEMO_SCREENSHOT']);
  });
});
