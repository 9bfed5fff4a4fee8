// The relay hub: a uWS app where every socket subscribes to its topic in `open` and every message is published
// to that topic, so fan-out runs in C++. Admission, per-message limits and a cross-instance backplane plug in
// through the contracts of ../contracts.ts instead of growing this file.
import type { Admission, Backplane, EndSocket, MessageLimiter, SocketRef, UpgradeGate, UpgradeInfo, AdmissionVerdict } from '../contracts.js';
import type { Logger } from '../logger.js';
import type { RelayConfig } from '../config/schema.js';
import { AddressNames, formatAddress } from './address.js';
import { Audience, NO_ROOM, type Room } from './audience.js';
import { FlowState } from './backpressure.js';
import { CloseCode, classifyClose, PLUGIN_CLOSES, topicFor, WS_PORT_HEALTH_PATH, type DisconnectReason, type PluginCloseReason, type RejectReason } from './protocol.js';
import {
  closeApp,
  listen,
  listenNow,
  type HttpRequest,
  type HttpResponse,
  type Listener,
  type TemplatedApp,
  type UwsFeatures,
  type UwsModule,
  type WebSocket,
  type WebSocketBehavior,
  type us_socket_context_t,
} from './uws.js';

/** RFC 6455: the Connection header of an opening handshake includes the token Upgrade (any case, in a list). */
const UPGRADE_TOKEN = /(?:^|,)\s*upgrade\s*(?:,|$)/i;

/**
 * Per-connection state; uWS copies its fields onto the socket object itself, 8 bytes each in slots that grow three at
 * a time. At most 15 fields: uWS adds them one by one, and V8 turns an object given a 16th property that way into a
 * dictionary (Node 20 and 24: 830 bytes a socket instead of 160). A plug-in's slot is read only by that plug-in.
 */
export interface SocketData<A = unknown, L = unknown> {
  /** pub/sub topic this socket joined (its room). */
  topic: string;
  /** Its topic's subscriber count (set when uWS reports the subscription): the message path reads it, no Map lookup. */
  room: Room;
  /** Client IP as admission decided it (socket peer, or X-Forwarded-For from a trusted proxy); one string per address. */
  ip: string;
  /** Reason recorded by the relay before it ended the socket itself; null when the close came from elsewhere. */
  decided: DisconnectReason | null;
  /**
   * What tells a slow consumer from a TCP drop at close: on builds with the `dropped` handler, the messages uWS dropped
   * for this socket because it was over max_backpressure_bytes; on the others, the bytes still queued to the client
   * when uWS unsubscribed it on close.
   */
  backlog: number;
  /** The admission's state for this socket (from its verdict); null without an admission. */
  admission: A | null;
  /** The limiter's state for this socket (its buckets); null without a limiter. */
  limiter: L | null;
  /** The slow-consumer guard's state for this socket (relay/backpressure.ts). */
  readonly flow: FlowState;
  /** The uWS app the socket belongs to (the hub serves more than one after a certificate replacement). */
  readonly app: TemplatedApp;
}

/**
 * Keeps slow readers and fast publishers from costing the relay its memory or the other clients their connections
 * (relay/backpressure.ts). Told about every socket, asked about every message; it cuts through `endSocket` and
 * `dropSocket`.
 */
export interface FlowControl {
  opened(ws: WebSocket<SocketData>, data: SocketData): void;
  /** May run inside ws.end(): must not throw. */
  closed(ws: WebSocket<SocketData>, data: SocketData): void;
  /** uWS `drain`: the socket's queue shrank. */
  drained(data: SocketData): void;
  /** uWS `pong`: the client answered a ping. */
  ponged(data: SocketData, message: ArrayBuffer): void;
  /** Returns false to drop a message at its publisher. Called after the limiter, before the fan-out. */
  allow(data: SocketData, bytes: number): boolean;
  /**
   * Returns false to drop a message from another thread or instance before it is published here; a message let
   * through counts toward the bytes its room's sockets were sent (read receipts).
   */
  allowInbound(topic: string, bytes: number): boolean;
}

/** Plain counters bumped on the hot path; the metrics registry reads them at scrape time. */
export interface HubCounters {
  messages: number;
  receivedBytes: number;
  /** Subscribers each relayed message was handed to (the sender excluded without echo), local and from the backplane. */
  deliveries: number;
}

/** Events the hub reports to metrics; none of them is per message. */
export interface HubObserver {
  connectionOpened(): void;
  disconnected(reason: DisconnectReason): void;
  upgradeRejected(reason: RejectReason): void;
}

/** Told when a topic gets its first subscriber on this hub and when it loses its last (never per message). */
export interface TopicWatcher {
  joined(topic: string): void;
  left(topic: string): void;
}

export interface HubOptions {
  readonly uws: UwsModule;
  /** What the loaded uWS build adds (see uws.ts); none of it when omitted. */
  readonly features?: UwsFeatures;
  readonly app: TemplatedApp;
  readonly relay: RelayConfig;
  readonly logger: Logger;
  readonly counters: HubCounters;
  readonly observer: HubObserver;
  readonly gate?: UpgradeGate;
  readonly admission?: Admission;
  readonly limiter?: MessageLimiter;
  readonly backplane?: Backplane;
  readonly flow?: FlowControl;
  readonly topics?: TopicWatcher;
}

/**
 * Where the build has it, uWS reports every message it drops for a socket over max_backpressure_bytes (and, with
 * closeOnBackpressureLimit, closes that socket): the close is then known to be a slow consumer's.
 */
function countDrop(ws: WebSocket<SocketData>): void {
  ws.getUserData().backlog++;
}

/**
 * Elsewhere the bytes still queued when uWS unsubscribes the socket, just before `close`, tell a slow consumer from
 * a TCP drop. The socket may already be invalid (inside ws.end()), and a throw here would silently abort the
 * caller of end(), so nothing may escape.
 */
function recordBufferedAtClose(ws: WebSocket<SocketData>, newCount: number, oldCount: number): void {
  if (newCount >= oldCount) return;
  try {
    ws.getUserData().backlog = ws.getBufferedAmount();
  } catch {
    // invalidated by ws.end(): the relay decided the reason itself
  }
}

/** uWS hard ceiling = the configured limit plus this slack, so a message just over the limit gets a real 1009 close frame. */
const PAYLOAD_SLACK_BYTES = 64 * 1024;

/**
 * How long a replaced app (addApp) is kept even without WebSockets: longer than uWS lets a connection take for its
 * TLS handshake and HTTP request (about 30 s on 20.57, 10 s on 20.30), so none of those is cut (ms).
 */
const HTTP_STRAGGLER_MS = 60_000;

/** What a reload may change on a running hub; the handlers read it at each use. */
interface LiveSettings {
  echo: boolean;
  /** 0 with echo, 1 without: the sender is not among a message's deliveries. */
  notSender: number;
  maxPayload: number;
}

export class Hub {
  readonly #opts: HubOptions;
  readonly #sockets = new Set<WebSocket<SocketData>>();
  readonly #audience = new Audience();
  /** One string per client address for every socket from it (and the admission's state), instead of one each. */
  readonly #addresses = new AddressNames();
  readonly #live: LiveSettings;
  /** The uWS frame limit is fixed when the behavior is registered: max_payload_bytes can be lowered live, not raised past it. */
  readonly #payloadCeiling: number;
  readonly #behavior: WebSocketBehavior<SocketData>;
  readonly #anyRoute: (res: HttpResponse, req: HttpRequest) => void;
  /**
   * The apps this hub serves: the last one listens; the others (replaced for a new certificate, see addApp) keep
   * their connections until they leave. Messages are published in every one.
   */
  #apps: TemplatedApp[];
  /** The admission and the limiter in force (a reload may plug in one the relay started without; see use*). */
  #admission: Admission | undefined;
  #limiter: MessageLimiter | undefined;
  #end: EndSocket | null = null;
  /** Open sockets per app. */
  readonly #perApp = new Map<TemplatedApp, number>();
  /** Replaced apps past HTTP_STRAGGLER_MS: closed as soon as their last WebSocket is gone. */
  readonly #retirable = new Set<TemplatedApp>();
  #listener: Listener | null = null;
  /** Where the listener is bound (the port the kernel gave, for port 0), to listen again after a pause. */
  #address: { host: string; port: number } | null = null;
  #closing = false;
  /** Sockets opened inside #corked, taken in once res.cork() has returned; null outside it. */
  #heldOpens: WebSocket<SocketData>[] | null = null;
  /** Whether the listener shares its port with the process's other uWS threads. */
  #shared = false;

  constructor(opts: HubOptions) {
    this.#opts = opts;
    const { relay, app } = opts;
    this.#apps = [app];
    this.#perApp.set(app, 0);
    this.#admission = opts.admission;
    this.#limiter = opts.limiter;
    const counters = opts.counters;
    const backplane = opts.backplane;
    const flow = opts.flow;
    const topics = opts.topics;
    const audience = this.#audience;
    const live: LiveSettings = { echo: relay.echo, notSender: relay.echo ? 0 : 1, maxPayload: relay.max_payload_bytes };
    this.#live = live;
    this.#payloadCeiling = relay.max_payload_bytes;
    /** Builds with a `dropped` handler tell a slow consumer by its drops; the others by its queued bytes (uws.ts). */
    const dropsReported = opts.features?.dropped === true;

    this.#behavior = {
      maxPayloadLength: relay.max_payload_bytes + PAYLOAD_SLACK_BYTES,
      maxBackpressure: relay.max_backpressure_bytes,
      closeOnBackpressureLimit: true,
      idleTimeout: relay.idle_timeout_s,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.#upgrade(res, req, context, app),
      // An exception escaping a uWS handler kills the process: every handler that runs plug-in code catches,
      // and the one socket involved is closed with 1011 instead.
      open: (ws) => {
        const held = this.#heldOpens;
        if (held !== null) {
          held.push(ws); // see #corked
          return;
        }
        this.#opened(ws);
        this.#joined(ws);
      },
      message: (ws, message, isBinary) => {
        const bytes = message.byteLength;
        if (bytes > live.maxPayload) {
          this.endSocket(ws, 'payload_too_big', CloseCode.messageTooBig, 'message too big');
          return;
        }
        try {
          const data = ws.getUserData();
          const limiter = this.#limiter;
          if (limiter !== undefined) {
            // A socket opened before a reload turned rate limits on gets its buckets at its first message.
            const decision = limiter.check((data.limiter ??= limiter.create(data.ip)), bytes);
            if (decision.action !== 'relay') {
              if (decision.action === 'close') this.#endFor(ws, decision.reason);
              return;
            }
          }
          if (flow !== undefined && !flow.allow(data, bytes)) return;
          counters.messages++;
          counters.receivedBytes += bytes;
          const topic = data.topic;
          counters.deliveries += data.room.subscribers - live.notSender;
          const apps = this.#apps;
          if (live.echo) {
            for (let i = 0; i < apps.length; i++) (apps[i] as TemplatedApp).publish(topic, message, isBinary);
          } else {
            ws.publish(topic, message, isBinary);
            // Its own app leaves the sender out; the others do not have it.
            if (apps.length > 1) for (const other of apps) if (other !== data.app) other.publish(topic, message, isBinary);
          }
          backplane?.publish(topic, message, isBinary);
        } catch (err) {
          this.#failed(ws, err, 'message');
        }
      },
      ...(flow === undefined
        ? {}
        : { drain: (ws: WebSocket<SocketData>) => flow.drained(ws.getUserData()), pong: (ws: WebSocket<SocketData>, message: ArrayBuffer) => flow.ponged(ws.getUserData(), message) }),
      subscription: (ws, topic, newCount, oldCount) => {
        const name = Buffer.from(topic).toString();
        // newCount is this app's; the hub counts over all its apps.
        const { room, before } = audience.add(name, newCount - oldCount);
        if (topics !== undefined) {
          if (before === 0 && room.subscribers > 0) topics.joined(name);
          else if (before > 0 && room.subscribers === 0) topics.left(name);
        }
        // The socket's own subscribe (in open): it keeps its Room for the message path.
        if (newCount > oldCount) ws.getUserData().room = room;
        if (!dropsReported) recordBufferedAtClose(ws, newCount, oldCount);
      },
      ...(dropsReported ? { dropped: countDrop } : {}),
      // Runs inside ws.end() too, where a throw would silently abort the caller (a shutdown loop): nothing escapes.
      close: (ws, code, message) => {
        if (this.#heldOpens !== null) this.#closedWhileHeld(ws);
        this.#sockets.delete(ws);
        opts.gate?.release();
        const data = ws.getUserData();
        this.#countApp(data.app, -1);
        try {
          flow?.closed(ws, data);
          if (data.admission !== null) this.#admission?.closed?.(data.admission);
        } catch (err) {
          opts.logger.error({ err }, 'admission close hook failed');
        }
        try {
          const reason = classifyClose({
            decided: data.decided,
            code,
            message: Buffer.from(message).toString(),
            bufferedBytes: dropsReported ? 0 : data.backlog,
            droppedMessages: dropsReported ? data.backlog : 0,
            maxBackpressureBytes: relay.max_backpressure_bytes,
          });
          opts.observer.disconnected(reason);
          if (opts.logger.isLevelEnabled('debug')) opts.logger.debug({ code, reason, ip: data.ip }, 'client disconnected');
        } catch (err) {
          opts.logger.error({ err }, 'close handler failed');
        }
      },
    };
    this.#anyRoute = (res, req) => this.#notUpgrade(res, req);
    app.ws<SocketData>('/*', this.#behaviorFor(app));
    app.any('/*', this.#anyRoute);
    // Plug-ins decide, the hub acts: they get these two callbacks, never the hub itself.
    const end: EndSocket = (socket, reason) => {
      const ws = socket as unknown as WebSocket<SocketData>;
      if (this.#sockets.has(ws)) this.#endFor(ws, reason);
    };
    this.#end = end;
    this.#admission?.attach?.(end);
    backplane?.attach((topic, message, isBinary) => {
      if (flow !== undefined && !flow.allowInbound(topic, message.byteLength)) return false;
      counters.deliveries += audience.size(topic);
      let reached = false;
      for (const a of this.#apps) reached = a.publish(topic, message, isBinary) || reached;
      return reached;
    });
  }

  /**
   * Serves new connections on `app` from now on (a certificate its predecessor could not take: see relay/tls.ts): it
   * gets the relay's routes and listens on the same port (shared: listen() was asked for it), then the previous
   * app's listener closes. The previous apps keep their connections, still relaying both ways, until the last one
   * leaves; then they are closed. Synchronous: a reload applies it before it returns.
   * @throws ListenError when the new app cannot bind the port
   */
  addApp(app: TemplatedApp): void {
    if (this.#closing || this.#address === null) throw new Error('the hub is not listening');
    app.ws<SocketData>('/*', this.#behaviorFor(app)).any('/*', this.#anyRoute);
    const listener = listenNow(this.#opts.uws, app, this.#address.host, this.#address.port, 'server', true);
    if (this.#listener !== null) this.#opts.uws.us_listen_socket_close(this.#listener.token);
    this.#listener = listener;
    const previous = this.#apps.at(-1) as TemplatedApp;
    this.#apps = [...this.#apps, app];
    this.#perApp.set(app, 0);
    // Connections the previous app accepted may still be completing their handshake or HTTP request (uWS counts
    // them nowhere the relay can see); closing that app would drop them. It closes once it has no WebSocket left
    // and uWS has given up on any such connection (its HTTP timeout), whichever comes last.
    setTimeout(() => {
      this.#retirable.add(previous);
      this.#retire(previous);
    }, HTTP_STRAGGLER_MS).unref();
  }

  /**
   * Plugs in an admission the hub was built without (a reload turned a check on): upgrades from now on go through
   * it; sockets already open are not known to it (they do not count toward its per-IP limits). Once.
   */
  useAdmission(admission: Admission): void {
    if (this.#admission !== undefined) return;
    this.#admission = admission;
    if (this.#end !== null) admission.attach?.(this.#end);
  }

  /** Plugs in a limiter the hub was built without (a reload turned rate limits on): every socket's next message on. Once. */
  useLimiter(limiter: MessageLimiter): void {
    this.#limiter ??= limiter;
  }

  /** Apps this hub serves (1 until a certificate replacement needs a new one; see addApp). */
  get apps(): number {
    return this.#apps.length;
  }

  #countApp(app: TemplatedApp, delta: 1 | -1): void {
    const n = (this.#perApp.get(app) ?? 0) + delta;
    this.#perApp.set(app, n);
    // A replaced app closes once its last connection has gone (not inside this close handler: after it).
    if (n === 0 && this.#retirable.has(app)) setImmediate(() => this.#retire(app));
  }

  #retire(app: TemplatedApp): void {
    if (this.#perApp.get(app) !== 0 || !this.#retirable.has(app) || !this.#apps.includes(app)) return;
    this.#retirable.delete(app);
    this.#apps = this.#apps.filter((a) => a !== app);
    this.#perApp.delete(app);
    closeApp(app);
  }

  /** The behavior for one app: its upgrades record the app in each socket's data. */
  #behaviorFor(app: TemplatedApp): WebSocketBehavior<SocketData> {
    return { ...this.#behavior, upgrade: (res, req, context) => this.#upgrade(res, req, context, app) };
  }

  /** Serves the relay's routes under an SNI server name added with app.addServerName (its router starts empty). */
  routeServerName(pattern: string, app: TemplatedApp = this.#opts.app): void {
    app.domain(pattern).ws<SocketData>('/*', this.#behaviorFor(app)).any('/*', this.#anyRoute);
  }

  /** The largest relay.max_payload_bytes this hub can enforce without a restart (its value at start). */
  get payloadCeiling(): number {
    return this.#payloadCeiling;
  }

  /** Applies the live relay keys (echo, max_payload_bytes up to payloadCeiling) to every message from now on, old connections too. */
  reconfigure(relay: RelayConfig): void {
    this.#live.echo = relay.echo;
    this.#live.notSender = relay.echo ? 0 : 1;
    this.#live.maxPayload = Math.min(relay.max_payload_bytes, this.#payloadCeiling);
  }

  /** A snapshot of the open sockets (for a shutdown that visits each once; never per message). */
  openSockets(): WebSocket<SocketData>[] {
    return Array.from(this.#sockets);
  }

  /** Whether `ws` is still open (its close handler has not run). */
  isOpen(ws: WebSocket<SocketData>): boolean {
    return this.#sockets.has(ws);
  }

  /** Number of open sockets right now. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** The WebSocket port, once listening. */
  get port(): number | null {
    return this.#listener?.port ?? null;
  }

  /**
   * Binds the WebSocket listener: exclusively, or `shared` with the process's other uWS threads on the same port
   * (SO_REUSEPORT; the kernel spreads connections over them). @throws ListenError
   */
  async listen(host: string, port: number, shared = false): Promise<number> {
    this.#shared = shared;
    this.#listener = await listen(this.#opts.uws, this.#opts.app, host, port, 'server', shared);
    this.#address = { host, port: this.#listener.port };
    return this.#listener.port;
  }

  /** Closes the listen socket but keeps relaying and upgrading connections already accepted (see capacity/). */
  pauseListening(): void {
    if (this.#listener === null) return;
    this.#opts.uws.us_listen_socket_close(this.#listener.token);
    this.#listener = null;
  }

  /**
   * Listens again where `listen` bound, after pauseListening. The port is free while paused: another process may
   * take it. Resolves true when listening (or shutting down: nothing to resume), false when it cannot be bound.
   */
  async resumeListening(): Promise<boolean> {
    if (this.#closing || this.#listener !== null || this.#address === null) return true;
    try {
      this.#listener = await listen(this.#opts.uws, this.#opts.app, this.#address.host, this.#address.port, 'server', this.#shared);
    } catch {
      return false;
    }
    // stopAccepting may have run while the listen was pending.
    if (this.#closing) this.stopAccepting();
    return true;
  }

  /** Ends one socket with a close frame, recording why, so the close handler counts the right reason. */
  endSocket(ws: WebSocket<SocketData>, reason: DisconnectReason, code: number, text: string): void {
    ws.getUserData().decided = reason;
    ws.end(code, text);
  }

  /** Closes one socket's TCP connection at once, without a close frame (its queue is freed), recording why. */
  dropSocket(ws: WebSocket<SocketData>, reason: DisconnectReason): void {
    ws.getUserData().decided = reason;
    ws.close();
  }

  /** Refuses new upgrades and closes the listen socket; open sockets keep relaying. Idempotent. */
  stopAccepting(): void {
    this.#closing = true;
    if (this.#listener !== null) {
      this.#opts.uws.us_listen_socket_close(this.#listener.token);
      this.#listener = null;
    }
  }

  /** Sends every open socket a close frame with `code`; their close handlers run before this returns. */
  endAll(reason: DisconnectReason, code: number, text: string): void {
    for (const ws of Array.from(this.#sockets)) this.endSocket(ws, reason, code, text);
  }

  /**
   * Drops every connection uWS still holds without a close frame: sockets still in their close handshake (after
   * endAll) and connections that never finished an HTTP request. The last step of a shutdown. Idempotent.
   */
  closeConnections(): void {
    this.stopAccepting();
    for (const app of this.#apps) closeApp(app);
  }

  /** Ends a socket for a reason a plug-in decided, with the close frame that goes with it. */
  #endFor(ws: WebSocket<SocketData>, reason: PluginCloseReason): void {
    const close = PLUGIN_CLOSES[reason];
    this.endSocket(ws, reason, close.code, close.text);
  }

  /** The relay counts a socket that opened. */
  #opened(ws: WebSocket<SocketData>): void {
    this.#sockets.add(ws);
    this.#countApp(ws.getUserData().app, 1);
    this.#opts.observer.connectionOpened();
  }

  /** The socket joins its room and the plug-ins learn of it. Not for a socket already closed. */
  #joined(ws: WebSocket<SocketData>): void {
    if (!this.#sockets.has(ws)) return;
    const data = ws.getUserData();
    ws.subscribe(data.topic);
    try {
      this.#opts.flow?.opened(ws, data);
      if (data.admission !== null) this.#admission?.opened?.(data.admission, ws as unknown as SocketRef);
    } catch (err) {
      this.#failed(ws, err, 'open');
    }
  }

  /**
   * Answers an upgrade request after its upgrade handler returned: inside res.cork(), as uWS requires, with all of
   * `open` held back until cork() has returned. 20.30's cork() (fixed upstream in uNetworking/uWebSockets#1929; 20.57
   * keeps a Connection: close upgrade, see UwsFeatures) reads the response's HTTP state once its callback returns,
   * even when the callback upgraded the socket: that memory then belongs to the WebSocket, and whatever was allocated
   * there meanwhile can read as "Connection: close", which makes cork() drop the new WebSocket at once (the client sees
   * 101, then 1006). Work done in `open` allocates (subscribe, an admission's `opened`, which on a worker thread posts
   * to the main thread): inside the cork, about one asynchronous upgrade in a thousand lost its socket; held back,
   * about one in 50,000.
   */
  #corked(res: HttpResponse, answer: () => void): void {
    const held: WebSocket<SocketData>[] = [];
    this.#heldOpens = held;
    try {
      res.cork(answer);
    } finally {
      this.#heldOpens = null;
      for (const ws of held) {
        this.#opened(ws);
        this.#joined(ws);
      }
    }
  }

  /** uWS closed a socket inside #corked before the relay took it in: it is counted as opened, then closed as usual. */
  #closedWhileHeld(ws: WebSocket<SocketData>): void {
    const held = this.#heldOpens as WebSocket<SocketData>[];
    const at = held.indexOf(ws);
    if (at < 0) return;
    held.splice(at, 1);
    this.#opened(ws);
  }

  #failed(ws: WebSocket<SocketData>, err: unknown, where: string): void {
    this.#opts.logger.error({ err, handler: where }, 'handler failed; closing the socket');
    try {
      this.endSocket(ws, 'error', CloseCode.internalError, 'internal error');
    } catch {
      // already closed
    }
  }

  /**
   * RFC 6455's answers to a bad handshake, which uWS does not give: it answers 101 to any Sec-WebSocket-Version
   * and never calls `upgrade` for a key that is not 24 characters long (see #notUpgrade). Always on, before admission.
   * @returns true when it refused the request
   */
  #refusedHandshake(res: HttpResponse, version: string, key: string, connection: string): boolean {
    let status: string, body: string;
    if (version !== '13') [status, body] = ['426 Upgrade Required', 'unsupported WebSocket version'];
    else if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) [status, body] = ['400 Bad Request', 'missing or malformed Sec-WebSocket-Key'];
    else if (!UPGRADE_TOKEN.test(connection)) [status, body] = ['400 Bad Request', 'the Connection header must include Upgrade'];
    else return false;
    this.#opts.observer.upgradeRejected('bad_handshake');
    res.writeStatus(status);
    if (version !== '13') res.writeHeader('Sec-WebSocket-Version', '13');
    res.end(body, true);
    return true;
  }

  /**
   * Every request uWS did not route to `upgrade` (no key, a key of the wrong length, plain HTTP) gets an answer.
   * A plain GET/HEAD of /healthz is a load balancer's health check: answered (503 once draining), never counted.
   * Other plain HTTP counts as not_websocket; bad_handshake is kept for requests that tried to upgrade.
   */
  #notUpgrade(res: HttpResponse, req: HttpRequest): void {
    const wantsWebSocket = req.getHeader('upgrade').toLowerCase() === 'websocket';
    if (wantsWebSocket && this.#refusedHandshake(res, req.getHeader('sec-websocket-version'), req.getHeader('sec-websocket-key'), req.getHeader('connection'))) return;
    if (!wantsWebSocket && req.getUrl() === WS_PORT_HEALTH_PATH) {
      const method = req.getMethod().toLowerCase();
      if (method === 'get' || method === 'head') {
        // The process-wide flag too: this thread may not have been told of the drain yet.
        const draining = this.#closing || this.#opts.gate?.draining === true;
        res.writeStatus(draining ? '503 Service Unavailable' : '200 OK');
        res.writeHeader('Content-Type', 'text/plain');
        res.end(method === 'head' ? '' : draining ? 'draining\n' : 'ok\n', true);
        return;
      }
    }
    this.#opts.observer.upgradeRejected(wantsWebSocket ? 'bad_handshake' : 'not_websocket');
    res.writeStatus('426 Upgrade Required');
    res.writeHeader('Upgrade', 'websocket');
    res.writeHeader('Sec-WebSocket-Version', '13');
    res.end('this endpoint speaks WebSocket only', true);
  }

  #upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t, app: TemplatedApp): void {
    // uWS invalidates req when this handler returns: copy everything needed first.
    const key = req.getHeader('sec-websocket-key');
    const protocols = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const url = req.getUrl();
    const topic = this.#audience.shared(topicFor(url, this.#opts.relay.rooms));
    const peerIp = this.#addresses.share(formatAddress(res.getRemoteAddress()));
    const firstProtocol = protocols === '' ? '' : (protocols.split(',')[0] ?? '').trim();

    const limiter = this.#limiter;
    const gate = this.#opts.gate;
    /** Takes the socket's place under the process-wide cap at the last moment, then upgrades (uWS opens it inside). */
    const accept = (ip: string, protocol: string, state: unknown): void => {
      const full = gate?.take() ?? null;
      if (full !== null) {
        if (state !== null) this.#admission?.closed?.(state); // admitted, but it never becomes a socket
        refuse(full.status, full.reason, full.body, full.headers);
        return;
      }
      const shared = this.#addresses.share(ip);
      const data: SocketData = { topic, room: NO_ROOM, ip: shared, decided: null, backlog: 0, admission: state, limiter: limiter?.create(shared) ?? null, flow: new FlowState(), app };
      try {
        res.upgrade(data, key, protocol, extensions, context);
      } catch (err) {
        gate?.release();
        if (state !== null) this.#admission?.closed?.(state);
        throw err;
      }
    };
    /** Set when the answer comes after the upgrade handler returned outside res.cork(): a refusal then corks itself. */
    let uncorked = false;
    const refuse = (status: string, reason: RejectReason, body = status, headers?: Readonly<Record<string, string>>): void => {
      this.#opts.observer.upgradeRejected(reason);
      const write = (): void => {
        res.writeStatus(status);
        if (headers) for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
        res.end(body, true);
      };
      if (uncorked) res.cork(write);
      else write();
    };

    if (this.#refusedHandshake(res, req.getHeader('sec-websocket-version'), key, req.getHeader('connection'))) return;
    if (this.#closing || gate?.draining === true) {
      refuse('503 Service Unavailable', 'draining', 'server is shutting down');
      return;
    }
    const full = gate?.check() ?? null;
    if (full !== null) {
      refuse(full.status, full.reason, full.body, full.headers);
      return;
    }
    const admission = this.#admission;
    if (admission === undefined) {
      accept(peerIp, firstProtocol, null);
      return;
    }
    const headers: Record<string, string> = {};
    req.forEach((name, value) => {
      headers[name] = value;
    });
    const info: UpgradeInfo = { url, query: req.getQuery(), headers, peerIp };
    const settle = (verdict: AdmissionVerdict): void => {
      if (this.#closing || gate?.draining === true) {
        if (verdict.ok) admission.closed?.(verdict.state);
        refuse('503 Service Unavailable', 'draining', 'server is shutting down');
        return;
      }
      // accept() takes the place under the cap only now: others may have been admitted while the verdict was pending.
      if (verdict.ok) accept(verdict.ip, verdict.protocol, verdict.state);
      else refuse(verdict.status, verdict.reason, verdict.body, verdict.headers);
    };
    let verdict: AdmissionVerdict | Promise<AdmissionVerdict>;
    try {
      verdict = admission.admit(info);
    } catch (err) {
      this.#opts.logger.error({ err }, 'admission failed');
      refuse('500 Internal Server Error', 'error');
      return;
    }
    if (!(verdict instanceof Promise)) {
      settle(verdict);
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    verdict
      .then(
        (v) => {
          if (aborted) {
            if (v.ok) admission.closed?.(v.state);
          } else if (this.#opts.features?.upgradesOutsideCork === true) {
            // An admitted upgrade is completed outside cork(), a refusal inside it (UwsFeatures.upgradesOutsideCork).
            uncorked = true;
            settle(v);
          } else {
            this.#corked(res, () => settle(v));
          }
        },
        (err: unknown) => {
          this.#opts.logger.error({ err }, 'admission failed');
          if (!aborted) res.cork(() => refuse('500 Internal Server Error', 'error'));
        },
      )
      // An unhandled rejection would end the process; the response is beyond saving at this point.
      .catch((err: unknown) => this.#opts.logger.error({ err }, 'upgrade failed after admission'));
  }
}
