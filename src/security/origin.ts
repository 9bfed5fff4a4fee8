// The Origin allow-list: the defence against cross-site WebSocket hijacking. Pure.

interface Wildcard {
  /** "https:" or null for any scheme. */
  readonly protocol: string | null;
  /** ".example.com": the host must end with it (so the apex itself does not match). */
  readonly suffix: string;
}

/** Decides from a request's Origin header whether a browser page may connect. */
export class OriginPolicy {
  readonly #exact = new Set<string>();
  readonly #wildcards: Wildcard[] = [];
  readonly #requireOrigin: boolean;

  /**
   * @param patterns "https://app.example.com" (exact), "https://*.example.com" (subdomains, that scheme, any port),
   *   "*.example.com" (subdomains, any scheme and port); empty = any origin. Patterns are validated by the config schema.
   * @param requireOrigin refuse requests that carry no Origin header (non-browser clients)
   */
  constructor(patterns: readonly string[], requireOrigin: boolean) {
    this.#requireOrigin = requireOrigin;
    for (const pattern of patterns) {
      const wildcard = /^(?:(https?):\/\/)?\*(\..+)$/i.exec(pattern);
      if (wildcard) this.#wildcards.push({ protocol: wildcard[1] ? `${wildcard[1].toLowerCase()}:` : null, suffix: (wildcard[2] ?? '').toLowerCase() });
      else this.#exact.add(new URL(pattern).origin);
    }
  }

  /** Whether any check happens at all (an empty list without require_origin lets everything through). */
  get active(): boolean {
    return this.#requireOrigin || this.#exact.size > 0 || this.#wildcards.length > 0;
  }

  /** @param origin the Origin header, '' when absent */
  allows(origin: string): boolean {
    if (origin === '') return !this.#requireOrigin;
    if (this.#exact.size === 0 && this.#wildcards.length === 0) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // "null" (sandboxed frames, file://) and garbage never match a listed origin
    }
    if (this.#exact.has(url.origin)) return true;
    const host = url.hostname;
    return this.#wildcards.some((w) => (w.protocol === null || w.protocol === url.protocol) && host.endsWith(w.suffix) && host.length > w.suffix.length);
  }
}
