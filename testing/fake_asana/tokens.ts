/**
 * Asana's page tokens: opaque, signed, bound to one listing (its path and parameters),
 * expiring after a time to live.
 *
 * @module
 */
import { ApiError } from "./respond.ts";

/** Makes and reads page tokens of one fake. */
export class PageTokens {
  readonly #secret: string;
  readonly #ttlMs: number;
  readonly #onExpired: () => void;

  /** `onExpired` counts each expired token refused. */
  constructor(secret: string, ttlMs: number, onExpired: () => void) {
    this.#secret = secret;
    this.#ttlMs = ttlMs;
    this.#onExpired = onExpired;
  }

  #sign(payload: string): string {
    let h = 0;
    for (const c of this.#secret + payload) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
    return (h >>> 0).toString(36);
  }

  /** A token for the page that starts at `position` of the listing `scope`. */
  make(position: number, scope: string): string {
    const payload = btoa(JSON.stringify({ p: position, e: Date.now() + this.#ttlMs, s: scope }))
      .replaceAll("=", "");
    return `${payload}.${this.#sign(payload)}`;
  }

  /** The position a token names; Asana's 400 when it is invalid, expired or of another listing. */
  read(tokenText: string, scope: string): number {
    const [payload, signature] = tokenText.split(".");
    let parsed: { p: number; e: number; s: string } | undefined;
    try {
      if (payload && signature === this.#sign(payload)) parsed = JSON.parse(atob(payload));
    } catch { /* invalid below */ }
    if (!parsed || parsed.s !== scope) {
      throw new ApiError(400, "offset: Your pagination token is invalid.");
    }
    if (parsed.e < Date.now()) {
      this.#onExpired();
      throw new ApiError(400, "offset: Your pagination token has expired.");
    }
    return parsed.p;
  }
}
