// The plug-in contracts: what the optional rooms (security, cluster) give the hub and what the hub gives them.
// Plug-ins decide, the hub acts: an admission returns a verdict, a limiter returns relay / drop / close with a
// reason, a backplane hands inbound messages to a callback the hub registers. Each plug-in keeps its per-socket
// state in its own slot, which only it reads. Types only: this module imports nothing but types from the rooms
// below it (config, logger, protocol), so a plug-in never depends on the hub or the composition root.
import type { Registry } from 'prom-client';
import type { Config } from './config/schema.js';
import type { Logger } from './logger.js';
import type { AdmissionRejectReason, PluginCloseReason } from './relay/protocol.js';

/** What the hub copies out of an upgrade request for the admission (uWS invalidates the request afterwards). */
export interface UpgradeInfo {
  readonly url: string;
  readonly query: string;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Peer address of the TCP connection, canonical text (IPv4 dotted quad, IPv4-mapped IPv6 as IPv4). */
  readonly peerIp: string;
}

/** An admission's answer to one upgrade request. */
export type AdmissionVerdict<S = unknown> =
  | {
      readonly ok: true;
      /** The client IP the socket is known by (the peer, or X-Forwarded-For from a trusted proxy). */
      readonly ip: string;
      /** Sec-WebSocket-Protocol to answer with; '' for none. */
      readonly protocol: string;
      /** This socket's admission state; handed back to `opened` and `closed`. */
      readonly state: S;
    }
  | {
      readonly ok: false;
      /** HTTP status line, e.g. "403 Forbidden". */
      readonly status: string;
      /** Label value of relay_upgrades_rejected_total. */
      readonly reason: AdmissionRejectReason;
      readonly body?: string;
      readonly headers?: Readonly<Record<string, string>>;
    };

/** What the hub answers instead of upgrading. */
export type Refusal = Extract<AdmissionVerdict, { ok: false }>;

/**
 * The process-wide part of admission (connection cap, overload), shared by every uWS thread: the hub consults it
 * before any plug-in, and takes a place in it right before an upgrade completes, so upgrades let through together
 * (an async admission, or other threads) cannot overshoot the cap. Runs on every upgrade: it must be O(1) and
 * should return shared objects.
 */
export interface UpgradeGate {
  /** A first look before the plug-ins run (reserves nothing). @returns null to go on */
  check(): Refusal | null;
  /** Reserves a place for a socket about to open; null when it got one. The hub calls release() when that socket closes. */
  take(): Refusal | null;
  release(): void;
  /** True once the process is shutting down (set on any thread): the hub refuses with 503 `draining`. */
  readonly draining?: boolean;
}

declare const socketBrand: unique symbol;
/** The hub's handle on one open socket: opaque to plug-ins, which only hand it back to `EndSocket`. */
export interface SocketRef {
  readonly [socketBrand]: true;
}

/**
 * Asks the hub to end an open socket for a reason the plug-in decided; the hub sends the close frame that goes with
 * the reason and counts it. A socket that already closed is left alone.
 */
export type EndSocket = (socket: SocketRef, reason: PluginCloseReason) => void;

/** Decides, before a socket exists, whether an upgrade request may become a WebSocket. */
export interface Admission<S = unknown> {
  /** Once, before the first upgrade: how the admission ends a socket later (token expiry). */
  attach?(end: EndSocket): void;
  admit(info: UpgradeInfo): AdmissionVerdict<S> | Promise<AdmissionVerdict<S>>;
  /** Once per accepted socket, after it opened. */
  opened?(state: S, socket: SocketRef): void;
  /**
   * Once per accepted socket, when it closed, and once per `ok` verdict that never became a socket (the client left,
   * the cap was reached meanwhile, the relay began draining); may run inside the hub's ws.end(): must not throw.
   */
  closed?(state: S): void;
}

/** Why a limiter dropped a message (the message is lost, the socket stays open). */
export type DropReason = 'rate_limited';

/**
 * A limiter's answer for one message: relay it, drop it, or have the hub close the socket, each with the reason.
 * Return shared constants: this runs per message and must not allocate.
 */
export type LimitDecision =
  | { readonly action: 'relay' }
  | { readonly action: 'drop'; readonly reason: DropReason }
  | { readonly action: 'close'; readonly reason: PluginCloseReason };

/** Per-message policy (rate limits). */
export interface MessageLimiter<S = unknown> {
  /** Once per accepted socket, at the upgrade: its limiter state (buckets), kept in the limiter's own slot. */
  create(ip: string): S;
  /** Per message, before it is relayed. */
  check(state: S, bytes: number): LimitDecision;
}

/**
 * Hands a message from another instance to this instance's subscribers of `topic`.
 * @returns true when at least one local subscriber got it
 */
export type Deliver = (topic: string, message: Uint8Array, isBinary: boolean) => boolean;

/** Carries messages to and from other relay instances. */
export interface Backplane {
  /** Once, before the hub listens: where messages from other instances go. */
  attach(deliver: Deliver): void;
  /** Per message, after the local fan-out. `message` is only valid during the call: copy what is kept. */
  publish(topic: string, message: ArrayBuffer | Uint8Array, isBinary: boolean): void;
}

/** What one step of a configuration reload will do, once every step has prepared. */
export interface PreparedChange {
  commit(): void;
  /** Undoes what prepare did (temporary files) when another step refused. */
  abort?(): void;
}

/** One room's part of a configuration reload: all steps prepare (any may refuse), then all commit. */
export interface ReloadStep {
  readonly name: string;
  /**
   * Changed keys (or sections) this room cannot apply to the running relay this time (e.g. a control it was not
   * built with); they are named in the log and keep their running value. Called before prepare.
   */
  restartOnly?(next: Config, running: Config): readonly string[];
  /**
   * Checks and builds what `next` needs without changing anything in force; null when there is nothing to do.
   * @throws ConfigError naming the key at fault: the reload is refused and nothing changes
   */
  prepare(next: Config, running: Config): PreparedChange | null;
}

/** What the optional rooms plug into the hub. */
export interface Extensions {
  admission?: Admission;
  limiter?: MessageLimiter;
  /**
   * Set when `limiter` is the one built from `limits` alone, which every worker thread builds for itself. Any other
   * limiter could only run on the main thread: the relay refuses to start one with server.workers above 1.
   */
  limiterFromLimits?: true;
  backplane?: Backplane;
  /** What the room applies when the configuration is reloaded. */
  reloadSteps?: ReloadStep[];
}

/** Named readiness conditions an extension may hold (e.g. "backplane: connecting"). */
export interface ReadinessGate {
  block(name: string, why: string): void;
  unblock(name: string): void;
}

/** Shutdown steps: the last one added runs first. */
export interface ShutdownSteps {
  add(name: string, close: () => void | Promise<void>): void;
}

/** Shared services handed to extension factories; nothing here reaches back into the hub. */
export interface ExtensionContext {
  readonly config: Config;
  readonly logger: Logger;
  /** The relay's metric registry, for the extension's own series. */
  readonly registry: Registry;
  readonly readiness: ReadinessGate;
  readonly lifecycle: ShutdownSteps;
  /**
   * Plugs in an admission or limiter a reload turned on after start (the relay was started without one): the hub
   * uses it from then on, on every thread. Called at most once for each.
   */
  readonly plugIn?: (late: Pick<Extensions, 'admission' | 'limiter'>) => void;
}

/** Builds the extensions a config asks for; may add readiness conditions and shutdown steps. */
export type ExtensionFactory = (ctx: ExtensionContext) => Extensions | Promise<Extensions>;
