/**
 * A proactive request limiter: requests per minute and requests in flight.
 *
 * @module
 */

/** Limits for one API token. */
export interface LimiterOptions {
  /** Requests a minute; unlimited when undefined. */
  requestsPerMinute?: number;
  /** Requests in flight at once. */
  maxInFlight: number;
}

/**
 * Spaces requests evenly at the configured rate (a small burst allowed) and
 * caps concurrency. `pause(ms)` holds every new request back, as a 429 asks.
 */
export class Limiter {
  readonly #interval: number;
  readonly #burst: number;
  readonly #maxInFlight: number;
  #inFlight = 0;
  #nextSlot = 0;
  #pausedUntil = 0;
  readonly #waiting: (() => void)[] = [];

  /** Creates a limiter. */
  constructor(options: LimiterOptions) {
    this.#interval = options.requestsPerMinute ? 60_000 / options.requestsPerMinute : 0;
    this.#burst = Math.min(options.maxInFlight, 10);
    this.#maxInFlight = options.maxInFlight;
  }

  /** Waits for a slot; call the returned function when the request is done. */
  async acquire(): Promise<() => void> {
    if (this.#inFlight >= this.#maxInFlight) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#inFlight--;
      this.#waiting.shift()?.();
    };
    try {
      await this.#awaitRate();
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  async #awaitRate(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const start = Math.max(this.#pausedUntil, this.#nextSlot - this.#interval * this.#burst, now);
      if (start <= now) {
        this.#nextSlot = Math.max(this.#nextSlot, now - this.#interval * this.#burst) +
          this.#interval;
        return;
      }
      await new Promise((r) => setTimeout(r, start - now));
    }
  }

  /** Holds new requests back for `ms` milliseconds (after a 429). */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + ms);
  }
}
