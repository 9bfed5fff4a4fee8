// Where a client's bearer credential comes from, and which subprotocol to answer. Pure; never logs.

/**
 * Browsers cannot set headers on a WebSocket, so a token may ride in the subprotocol list as "bearer.<token>"
 * next to a real protocol: `new WebSocket(url, ['relay', 'bearer.' + token])`.
 */
export const BEARER_PROTOCOL_PREFIX = 'bearer.';

export interface Credential {
  /** The presented token, or null when none was presented. Secret: never log it. */
  readonly token: string | null;
  /**
   * Sec-WebSocket-Protocol to answer with: the first offered protocol that is not a credential, or '' for none.
   * Answering with the token would echo the secret into response headers.
   */
  readonly protocol: string;
}

/**
 * Reads the credential from, in this order, `Authorization: Bearer <token>`, the `token` query parameter, and a
 * "bearer.<token>" entry of Sec-WebSocket-Protocol.
 * @param headers lower-cased request headers
 * @param query the raw query string, without "?"
 */
export function extractCredential(headers: Readonly<Record<string, string>>, query: string): Credential {
  const offered = splitProtocols(headers['sec-websocket-protocol'] ?? '');
  const protocol = offered.find((p) => !p.startsWith(BEARER_PROTOCOL_PREFIX)) ?? '';
  const authorization = /^bearer\s+(\S+)\s*$/i.exec(headers['authorization'] ?? '');
  if (authorization?.[1] !== undefined) return { token: authorization[1], protocol };
  if (query !== '') {
    const fromQuery = new URLSearchParams(query).get('token');
    if (fromQuery !== null && fromQuery !== '') return { token: fromQuery, protocol };
  }
  const fromProtocol = offered.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX) && p.length > BEARER_PROTOCOL_PREFIX.length);
  return { token: fromProtocol === undefined ? null : fromProtocol.slice(BEARER_PROTOCOL_PREFIX.length), protocol };
}

/** The protocol to answer when no credential is read at all: still never a "bearer." entry. */
export function answerProtocol(headers: Readonly<Record<string, string>>): string {
  return splitProtocols(headers['sec-websocket-protocol'] ?? '').find((p) => !p.startsWith(BEARER_PROTOCOL_PREFIX)) ?? '';
}

function splitProtocols(header: string): string[] {
  if (header === '') return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}
