// The ceiling: a bare uWS fan-out relay (subscribe in open, app.publish in message, nothing else).
// Limits match the relay's defaults so the two differ only by what the relay adds on top.
// BENCH_ROOMS=1: the request path is the topic (the least a rooms relay must keep per socket: its topic).
// BENCH_TLS_CERT and BENCH_TLS_KEY: TLS (SSLApp), as the relay with server.tls.
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';

const uws = createRequire(import.meta.url)('uWebSockets.js') as typeof Uws;
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
  console.log(JSON.stringify({ msg: 'peer listening', ws_port: uws.us_socket_local_port(token) }));
  process.once('SIGTERM', () => {
    uws.us_listen_socket_close(token);
    process.exit(0);
  });
});
