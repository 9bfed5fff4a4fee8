// Shared bearer tokens, compared in constant time. Pure.
import { createHash, timingSafeEqual } from 'node:crypto';

/** A set of accepted tokens. Lookups hash the candidate and compare it with every entry, so neither which
 * token matched nor how much of it matched shows in the timing. */
export class TokenSet {
  readonly #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  get size(): number {
    return this.#digests.length;
  }

  has(candidate: string): boolean {
    const d = digest(candidate);
    let found = false;
    for (const known of this.#digests) found = timingSafeEqual(d, known) || found;
    return found;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
