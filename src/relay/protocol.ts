// The relay's wire contract: close codes, disconnect and rejection reasons, topic naming. Pure, no I/O.

/** WebSocket close codes the relay sends or reports; the README's close-code table mirrors this. */
export const CloseCode = {
  goingAway: 1001,
  /** Not sent on the wire: the TCP connection was dropped without a close frame. */
  abnormal: 1006,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  /** The JWT the client authenticated with expired while it was connected. */
  tokenExpired: 4001,
  /** The client read too slowly: its queue passed the soft limit, or did not drain for relay.max_stall_s. */
  slowConsumer: 4008,
} as const;

/** Every value of the `reason` label of relay_disconnections_total, declared up front so label children are bounded. */
export const DISCONNECT_REASONS = [
  'client_close',
  'slow_consumer',
  'shutdown',
  'idle_timeout',
  'payload_too_big',
  'invalid_utf8',
  'protocol_error',
  'rate_limited',
  'token_expired',
  'error',
] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

/** The disconnect reasons a plug-in may decide (a limiter's `close`, an admission's token expiry). */
export type PluginCloseReason = Extract<DisconnectReason, 'rate_limited' | 'token_expired'>;

/** The close frame the hub sends for each reason a plug-in decides. */
export const PLUGIN_CLOSES: Readonly<Record<PluginCloseReason, { readonly code: number; readonly text: string }>> = {
  rate_limited: { code: CloseCode.policyViolation, text: 'rate limit exceeded' },
  token_expired: { code: CloseCode.tokenExpired, text: 'token expired' },
};

/** Every value of the `reason` label of relay_upgrades_rejected_total, declared up front so label children are bounded. */
export const UPGRADE_REJECT_REASONS = [
  'origin',
  'auth',
  'max_connections',
  'per_ip',
  'upgrade_rate',
  'file_limit',
  'overloaded',
  'draining',
  'bad_handshake',
  'not_websocket',
  'error',
] as const;
export type RejectReason = (typeof UPGRADE_REJECT_REASONS)[number];

/** The rejection reasons an admission plug-in may give; the others are the hub's own. */
export type AdmissionRejectReason = Exclude<RejectReason, 'draining' | 'bad_handshake' | 'not_websocket' | 'error'>;

/** The path a plain HTTP health check may ask on the WebSocket port (load balancers probe the port they route to). */
export const WS_PORT_HEALTH_PATH = '/healthz';

/** The single topic every socket shares when rooms are off. */
export const RELAY_TOPIC = 'relay';

/** The topic a connection joins: its request path when rooms are on, else the one shared topic. */
export function topicFor(path: string, rooms: boolean): string {
  return rooms ? path : RELAY_TOPIC;
}

/** What the close handler knows about one closed socket. */
export interface CloseFacts {
  /** Reason the relay itself recorded before ending the socket, if it ended it. */
  readonly decided: DisconnectReason | null;
  readonly code: number;
  /** uWS's reason text (the client's close reason, or uWS's own description of why it dropped the socket). */
  readonly message: string;
  /** Bytes queued to the client when uWS unsubscribed it, just before close (0 where uWS reports drops instead). */
  readonly bufferedBytes: number;
  /** Messages uWS reported dropped for this socket over its backpressure limit (uWS 20.57; always 0 on 20.30). */
  readonly droppedMessages: number;
  readonly maxBackpressureBytes: number;
}

/**
 * Names why a socket closed. uWS drops the TCP connection (1006) on protocol violations and tells why only in
 * the reason text; a slow consumer closed by closeOnBackpressureLimit also arrives as 1006, with the same text as
 * a client's TCP drop, and only the drops uWS reported (20.57) or its queued bytes (20.30) tell them apart.
 */
export function classifyClose(facts: CloseFacts): DisconnectReason {
  if (facts.decided !== null) return facts.decided;
  // Any close code other than 1006 came in the client's own close frame (the relay's own closes are `decided`).
  if (facts.code !== CloseCode.abnormal) return 'client_close';
  switch (facts.message) {
    case '':
    case 'Received TCP FIN before WebSocket close frame':
      // A TCP drop by the client, or closeOnBackpressureLimit: uWS 20.57 names both "Received TCP FIN…"; 20.30
      // gives no text for them, nor for a frame-level protocol violation. Drops or queued bytes tell them apart.
      return facts.droppedMessages > 0 || facts.bufferedBytes >= facts.maxBackpressureBytes ? 'slow_consumer' : 'client_close';
    case 'Received too big message':
      return 'payload_too_big';
    case 'Received invalid UTF-8':
      return 'invalid_utf8';
    case 'WebSocket timed out from inactivity':
      return 'idle_timeout';
    default:
      return 'protocol_error';
  }
}
