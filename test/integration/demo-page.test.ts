// The demo page on the WebSocket port: served with a strict CSP when server.demo_page is on, absent when off, and
// never in the way of WebSocket upgrades on the same path.
import { describe, expect, it } from 'vitest';
import { DEMO_CSP } from '../../src/demo/page.js';
import { connectMany } from '../helpers/client.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startRelay } from '../helpers/relay.js';

const http = (wsUrl: string): string => wsUrl.replace(/^ws/, 'http');

describe('demo page', () => {
  it('serves the page, its script and stylesheet with a strict CSP, and WebSockets still open on /', async () => {
    const relay = await startRelay({ server: { demo_page: true } });
    const base = http(relay.url);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(DEMO_CSP);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    // No inline code a strict CSP would block: every script has a src, no event-handler attributes, no inline styles.
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script src="/demo.js" defer>']);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    expect(DEMO_CSP).toContain("script-src 'self'");
    expect(DEMO_CSP).not.toContain('unsafe');

    const js = await fetch(`${base}/demo.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('new WebSocket(url)');
    expect((await fetch(`${base}/demo.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');

    const [a, b] = await connectMany(`${relay.url}/`, 2);
    a!.send('through /');
    expect((await b!.received(1))[0]!.text).toBe('through /');
    // Fetching the page is not a refused upgrade of any kind.
    const text = await scrape(relay.metricsUrl);
    for (const reason of ['bad_handshake', 'not_websocket']) expect(metricValue(text, 'relay_upgrades_rejected_total', { reason })).toBe(0);
  });

  it('is not served when server.demo_page is off (the default)', async () => {
    const relay = await startRelay();
    expect(relay.config.server.demo_page).toBe(false);
    for (const path of ['/', '/demo.js', '/demo.css']) {
      const res = await fetch(`${http(relay.url)}${path}`);
      expect(res.status).toBe(426);
      expect(res.headers.get('content-security-policy')).toBeNull();
      expect(await res.text()).not.toContain('WebSocket(');
    }
  });
});
