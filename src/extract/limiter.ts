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
 * Spaces requests evenly at the configured rate and caps concurrency. A small
 * burst is allowed, and the steady rate is lowered by the burst so that no window
 * of a minute ever holds more than `requestsPerMinute` requests. `pause(ms)` holds
 * every new request back and slows the rate down, as a 429 asks; the rate then
 * recovers step by step.
 */
export class Limiter {
  readonly #baseInterval: number;
  #interval: number;
  readonly #burst: number;
  readonly #maxInFlight: number;
  #inFlight = 0;
  /** Theoretical arrival time of the next request (GCRA). */
  #tat = 0;
  #pausedUntil = 0;
  readonly #waiting: (() => void)[] = [];

  /** Creates a limiter. */
  constructor(options: LimiterOptions) {
    const rpm = options.requestsPerMinute;
    this.#burst = rpm ? Math.max(1, Math.min(options.maxInFlight, 10, Math.floor(rpm / 100))) : 10;
    this.#baseInterval = rpm ? 60_000 / Math.max(1, rpm - this.#burst) : 0;
    this.#interval = this.#baseInterval;
    this.#maxInFlight = options.maxInFlight;
  }

  /** Waits for a slot; call the returned function when the request is done. */
  async acquire(): Promise<() => void> {
    if (this.#inFlight >= this.#maxInFlight) {
      // a releasing request hands its slot over: the count never passes the cap
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#inFlight++;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#inFlight--;
    };
    try {
      await this.#awaitRate();
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  /** GCRA: a request may go when now ≥ TAT − (burst − 1) × interval; each one moves TAT on. */
  async #awaitRate(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const tat = Math.max(this.#tat, now);
      const at = Math.max(this.#pausedUntil, tat - this.#interval * (this.#burst - 1));
      if (at <= now) {
        this.#tat = tat + this.#interval;
        // recover 2% of the way back to the configured rate with every request
        this.#interval = Math.max(this.#baseInterval, this.#interval * 0.98);
        return;
      }
      await new Promise((r) => setTimeout(r, at - now));
    }
  }

  /** Holds new requests back for `ms` milliseconds and slows the rate (after a 429). */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + ms);
    if (this.#baseInterval > 0) {
      this.#interval = Math.min(this.#baseInterval * 4, this.#interval * 1.25);
    }
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }
}
