// The ceiling: a bare uWS fan-out relay (subscribe in open, app.publish in message, nothing else).
// Limits match the relay's defaults so the two differ only by what the relay adds on top.
// BENCH_ROOMS=1: the request path is the topic (the least a rooms relay must keep per socket: its topic).
// BENCH_TLS_CERT and BENCH_TLS_KEY: TLS (SSLApp), as the relay with server.tls.
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';

const require = createRequire(import.meta.url);

/** The build the relay picks (src/relay/uws.ts): 20.57 where it loads, else the 20.30 binary for Node 20. */
function loadUws(): { uws: typeof Uws; version: string } {
  try {
    return { uws: require('uWebSockets.js') as typeof Uws, version: '20.57.0' };
  } catch {
    const binary = `uWebSockets.js-20.30/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    return { uws: require(binary) as typeof Uws, version: '20.30.0' };
  }
}
const { uws, version } = loadUws();
const TOPIC = 'all';
const limits = { maxPayloadLength: 64 * 1024, maxBackpressure: 1024 * 1024, idleTimeout: 120 };

const { BENCH_TLS_CERT: cert, BENCH_TLS_KEY: key } = process.env;
const app = cert && key ? uws.SSLApp({ cert_file_name: cert, key_file_name: key }) : uws.App();
if (process.env.BENCH_ROOMS === '1') {
  app.ws<{ topic: string }>('/*', {
    ...limits,
    upgrade: (res, req, context) => {
      res.upgrade({ topic: req.getUrl() }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      ws.subscribe(ws.getUserData().topic);
    },
    message: (ws, message, isBinary) => {
      app.publish(ws.getUserData().topic, message, isBinary);
    },
  });
} else {
  app.ws('/*', {
    ...limits,
    open: (ws) => {
      ws.subscribe(TOPIC);
    },
    // The message ArrayBuffer dies when this callback returns; publish copies it before then.
    message: (_ws, message, isBinary) => {
      app.publish(TOPIC, message, isBinary);
    },
  });
}

app.listen('127.0.0.1', 0, (token) => {
  if (!token) {
    console.error('uws-raw: listen failed');
    process.exit(1);
  }
  console.log(JSON.stringify({ msg: 'peer listening', ws_port: uws.us_socket_local_port(token), uws_version: version, node_version: process.version }));
  process.once('SIGTERM', () => {
    uws.us_listen_socket_close(token);
    process.exit(0);
  });
});
