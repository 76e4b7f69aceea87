/**
 * A proactive request limiter modelled on the server's own limits: at most N requests
 * in any sliding window (an API's quota per minute) and at most M in flight.
 *
 * @module
 */

/** Time as the limiter sees it: the system clock, or a fake one in tests. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds of this clock; the returned function cancels it. */
  timer(ms: number, fn: () => void): () => void;
}

/** The system clock (`performance.now()` and `setTimeout`). */
export const systemClock: Clock = {
  now: () => performance.now(),
  timer: (ms, fn) => {
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  },
};

/**
 * Gives a request's place back once its response has been read; after a 429, pass the
 * wait it asked for, so that no other request goes before the pause begins.
 */
export type Release = (throttledMs?: number) => void;

/** Limits for one API token. */
export interface LimiterOptions {
  /** Requests a minute (a window of `windowMs`); unlimited when undefined. */
  requestsPerMinute?: number;
  /** Requests in flight at once. */
  maxInFlight: number;
  /** The window the quota counts in, in milliseconds (default 60,000). */
  windowMs?: number;
  /** Default: the system clock. */
  clock?: Clock;
}

/**
 * Lets requests go as the server's limits allow, never beyond them: a request takes a
 * place in the window when it is sent and keeps it until `window` after its response
 * (the server counted it on arrival, which was earlier: the window the limiter sees is
 * never fuller than the server's). While the window has room, requests go at once, as
 * many as `maxInFlight` allows; once it is full, each new request waits for the oldest
 * to leave it, so the rest of the run goes at the quota's pace.
 *
 * A 429 means the server's quota is smaller than declared (a free plan, another client
 * on the same token, a shorter window): `pause(ms)` holds every request back for `ms`
 * and lowers the quota to 90% of what the window held when the server refused; it climbs
 * back to the declared quota over one window.
 */
export class Limiter {
  readonly #quota: number;
  /** After a 429: the quota lowered to, and when (it climbs back over one window). */
  #lowered: { to: number; at: number } | undefined;
  readonly #windowMs: number;
  readonly #maxInFlight: number;
  readonly #clock: Clock;
  #inFlight = 0;
  /** When each completed request leaves the window (ascending: a monotonic clock). */
  readonly #leaving: number[] = [];
  #leavingHead = 0;
  #pausedUntil = 0;
  readonly #waiting: { grant: () => void }[] = [];
  #cancelTimer: (() => void) | undefined;

  /** Creates a limiter. */
  constructor(options: LimiterOptions) {
    this.#quota = options.requestsPerMinute ?? Infinity;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Waits for a place (in flight and in the window); call the returned function when
   * the response has been read (with the wait a 429 asked for, if it was one). Rejects
   * with the signal's reason when it aborts first.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#releaser());
        },
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        if (this.#waiting.length === 0) this.#stopTimer();
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
      this.#pump();
    });
  }

  #releaser(): Release {
    let released = false;
    return (throttledMs?: number) => {
      if (released) return;
      released = true;
      this.#inFlight--;
      if (this.#quota !== Infinity) {
        this.#leaving.push(this.#clock.now() + this.#windowMs);
      }
      if (throttledMs !== undefined) this.pause(throttledMs);
      this.#pump();
    };
  }

  /** The quota now: the declared one, or a lowered one climbing back over one window. */
  #allowedAt(now: number): number {
    if (!this.#lowered) return this.#quota;
    const climbed = this.#lowered.to + (now - this.#lowered.at) * this.#quota / this.#windowMs;
    if (climbed >= this.#quota) {
      this.#lowered = undefined;
      return this.#quota;
    }
    return climbed;
  }

  /** Requests in the window now: those in flight and those that left it less than a window ago. */
  #inWindow(now: number): number {
    while (this.#leavingHead < this.#leaving.length && this.#leaving[this.#leavingHead] <= now) {
      this.#leavingHead++;
    }
    if (this.#leavingHead > 1024 && this.#leavingHead * 2 > this.#leaving.length) {
      this.#leaving.splice(0, this.#leavingHead);
      this.#leavingHead = 0;
    }
    return this.#inFlight + this.#leaving.length - this.#leavingHead;
  }

  /** Grants waiting requests while both limits allow, else sets a timer for the next place. */
  #pump(): void {
    while (this.#waiting.length > 0 && this.#inFlight < this.#maxInFlight) {
      const now = this.#clock.now();
      let at = this.#pausedUntil;
      const allowed = this.#allowedAt(now);
      if (at <= now && this.#inWindow(now) >= allowed) {
        // full: the next place frees when enough completed requests leave the window,
        // or when a lowered quota has climbed one place higher
        const over = this.#inWindow(now) - Math.floor(allowed);
        const i = this.#leavingHead + over;
        at = i < this.#leaving.length ? this.#leaving[i] : Infinity;
        if (this.#lowered) {
          const climbs = this.#lowered.at +
            (Math.floor(allowed) + 1 - this.#lowered.to) * this.#windowMs / this.#quota;
          at = Math.min(at, Math.max(now + 1, climbs));
        }
        // every place is held by a request in flight: a release will pump again
        if (at === Infinity) return;
      }
      if (at > now) {
        this.#wake(at - now);
        return;
      }
      this.#inFlight++;
      this.#waiting.shift()!.grant();
    }
  }

  #wake(ms: number): void {
    if (this.#cancelTimer !== undefined) return;
    this.#cancelTimer = this.#clock.timer(ms, () => {
      this.#cancelTimer = undefined;
      this.#pump();
    });
  }

  #stopTimer(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /**
   * Holds new requests back for `ms` milliseconds and lowers the quota to 90% of what
   * the window holds now (after a 429: the server's quota is smaller than declared).
   */
  pause(ms: number): void {
    const now = this.#clock.now();
    this.#pausedUntil = Math.max(this.#pausedUntil, now + ms);
    if (this.#quota !== Infinity) {
      const to = Math.max(1, Math.floor(this.#inWindow(now) * 0.9));
      if (to < this.#allowedAt(now)) this.#lowered = { to, at: now };
    }
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The quota the limiter keeps to now (lowered after 429s, recovering). */
  get allowed(): number {
    return Math.floor(this.#allowedAt(this.#clock.now()));
  }

  /** What the limiter holds now: the window's use, and what the waiting requests wait for. */
  snapshot(): LimiterSnapshot {
    const now = this.#clock.now();
    const inWindow = this.#quota === Infinity ? this.#inFlight : this.#inWindow(now);
    const allowed = this.#allowedAt(now);
    const waiting = this.#waiting.length;
    let waitingFor: LimiterSnapshot["waitingFor"];
    let nextInMs: number | undefined;
    if (waiting > 0) {
      if (this.#pausedUntil > now) {
        waitingFor = "pause";
        nextInMs = this.#pausedUntil - now;
      } else if (this.#inFlight >= this.#maxInFlight) {
        waitingFor = "in_flight";
      } else if (inWindow >= allowed) {
        waitingFor = "window";
        const over = inWindow - Math.floor(allowed);
        const i = this.#leavingHead + over;
        if (i < this.#leaving.length) nextInMs = Math.max(0, this.#leaving[i] - now);
      }
    }
    return {
      inWindow,
      quota: this.#quota === Infinity ? undefined : this.#quota,
      allowed: this.#quota === Infinity ? undefined : Math.floor(allowed),
      windowMs: this.#windowMs,
      inFlight: this.#inFlight,
      maxInFlight: this.#maxInFlight,
      waiting,
      waitingFor,
      nextInMs,
    };
  }
}

/** What a {@linkcode Limiter} holds at one moment (for progress). */
export interface LimiterSnapshot {
  /** Requests in the window now (in flight, and those that ended less than a window ago). */
  inWindow: number;
  /** The declared requests a window (undefined: no rate limit). */
  quota: number | undefined;
  /** The quota kept to now (lower than `quota` for a while after a 429). */
  allowed: number | undefined;
  /** The window's length in milliseconds. */
  windowMs: number;
  /** Requests in flight. */
  inFlight: number;
  /** The most requests in flight at once. */
  maxInFlight: number;
  /** Requests waiting for a place. */
  waiting: number;
  /**
   * What they wait for: the window to free a place, the pause after a 429, or a request
   * in flight to end (undefined: nothing waits).
   */
  waitingFor: "window" | "pause" | "in_flight" | undefined;
  /** When the next place frees, in milliseconds from now, when known. */
  nextInMs: number | undefined;
}
