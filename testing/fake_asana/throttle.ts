/**
 * Asana's rate limits: requests per token in a sliding window (rejected requests count
 * too), and requests in flight; a 429 with `Retry-After` when either is exceeded.
 *
 * @module
 */
import { json } from "./respond.ts";

/** The limits to enforce (none by default). */
export interface ThrottleOptions {
  /** Requests allowed in a sliding window (Asana: 1,500 a minute paid, 150 free). */
  rateLimit?: { requests: number; windowMs?: number };
  /** GETs in flight before a 429 (Asana: 50). */
  maxInFlight?: number;
}

/** The rate window and the requests in flight of one fake. */
export class Throttle {
  readonly #options: ThrottleOptions;
  readonly #window: number[] = [];
  /** Requests in flight now. */
  inFlight = 0;

  /** Creates the throttle. */
  constructor(options: ThrottleOptions) {
    this.#options = options;
  }

  /** A 429 for a request arriving now, or undefined when it may go on. */
  check(now = Date.now()): Response | undefined {
    const limit = this.#options.rateLimit;
    let wait = 0;
    if (limit) {
      const span = limit.windowMs ?? 60_000;
      while (this.#window.length > 0 && this.#window[0] <= now - span) this.#window.shift();
      this.#window.push(now); // rejected requests count against the quota too
      if (this.#window.length > limit.requests) {
        wait = this.#window[this.#window.length - 1 - limit.requests] + span - now;
      }
    }
    if (this.#options.maxInFlight !== undefined && this.inFlight > this.#options.maxInFlight) {
      wait = Math.max(wait, 1000);
    }
    if (wait <= 0) return undefined;
    return json(429, {
      errors: [{
        message:
          "You've made too many requests and hit a rate limit. Please retry after the given amount of time.",
      }],
    }, { "retry-after": String(Math.max(1, Math.ceil(wait / 1000))) });
  }
}
