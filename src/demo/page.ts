// The demo page on the WebSocket port (server.demo_page): GET / and its script and stylesheet, plain HTTP, with a
// strict Content-Security-Policy. Mounted only when enabled; upgrade requests pass through to the WebSocket route.
import type { HttpRequest, HttpResponse, TemplatedApp } from '../relay/uws.js';
import { DEMO_CSS, DEMO_HTML, DEMO_JS } from './assets.js';

/**
 * Only the page's own script and stylesheet run; it may connect only back to its own origin (CSP 'self' covers
 * ws:// and wss:// to the same host); nothing may frame it.
 */
export const DEMO_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  readonly path: string;
  readonly type: string;
  readonly body: Buffer;
}

const ASSETS: readonly Asset[] = [
  { path: '/', type: 'text/html; charset=utf-8', body: Buffer.from(DEMO_HTML) },
  { path: '/demo.js', type: 'text/javascript; charset=utf-8', body: Buffer.from(DEMO_JS) },
  { path: '/demo.css', type: 'text/css; charset=utf-8', body: Buffer.from(DEMO_CSS) },
];

/** The paths the demo page answers on (GET only). */
export const DEMO_PATHS: readonly string[] = ASSETS.map((a) => a.path);

/** Registers GET routes for the page's files on `app`. A request asking for a WebSocket upgrade is left to the ws route. */
export function mountDemoPage(app: TemplatedApp): void {
  for (const asset of ASSETS) app.get(asset.path, (res, req) => serve(res, req, asset));
}

function serve(res: HttpResponse, req: HttpRequest, asset: Asset): void {
  if (req.getHeader('upgrade') !== '') {
    // GET / is also where clients open WebSockets: hand it on to the next matching route.
    req.setYield(true);
    return;
  }
  res.writeStatus('200 OK');
  res.writeHeader('Content-Type', asset.type);
  res.writeHeader('Content-Security-Policy', DEMO_CSP);
  res.writeHeader('X-Content-Type-Options', 'nosniff');
  res.writeHeader('Referrer-Policy', 'no-referrer');
  res.writeHeader('Cache-Control', 'no-cache');
  res.end(asset.body);
}
