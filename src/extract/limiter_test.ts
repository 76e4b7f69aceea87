/**
 * The window-aware limiter on a fake clock: simulated requests with a latency, a
 * server-side count of every window, no real waiting.
 */
import assert from "node:assert/strict";
import { type Clock, Limiter } from "./limiter.ts";

/** A clock that moves only when told to; timers fire in order. */
class FakeClock implements Clock {
  #now = 0;
  #timers: { at: number; fn: () => void; seq: number }[] = [];
  #seq = 0;
  now(): number {
    return this.#now;
  }
  timer(ms: number, fn: () => void): () => void {
    const t = { at: this.#now + Math.max(0, ms), fn, seq: this.#seq++ };
    this.#timers.push(t);
    return () => {
      this.#timers = this.#timers.filter((x) => x !== t);
    };
  }
  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.timer(ms, r));
  }
  get pending(): number {
    return this.#timers.length;
  }
  /** Runs until `done` settles: lets promises run, then jumps to the next timer. */
  async run<T>(done: Promise<T>): Promise<T> {
    let settled = false;
    const out = done.finally(() => settled = true);
    for (;;) {
      // let every ready promise chain run (a real macrotask turn)
      await new Promise((r) => setTimeout(r, 0));
      if (settled) return out;
      if (this.#timers.length === 0) {
        throw new Error("deadlock: nothing pending and the work is not done");
      }
      // every timer due at the earliest time fires, in order, before promises run again
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const at = this.#timers[0].at;
      this.#now = Math.max(this.#now, at);
      while (this.#timers.length > 0 && this.#timers[0].at === at) this.#timers.shift()!.fn();
    }
  }
}

interface Simulation {
  /** Time (ms) from the first request to the last response. */
  elapsed: number;
  /** The most requests the server saw in any window (counted on arrival). */
  peakWindow: number;
  peakInFlight: number;
}

/** `requests` requests of `latency` ms each (arriving at the server half-way), all queued at once. */
async function simulate(
  limiter: Limiter,
  clock: FakeClock,
  requests: number,
  latency: number,
  windowMs = 60_000,
): Promise<Simulation> {
  const arrivals: number[] = [];
  let inFlight = 0;
  let peakInFlight = 0;
  let last = 0;
  const one = async () => {
    const release = await limiter.acquire();
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    await clock.sleep(latency / 2);
    arrivals.push(clock.now());
    await clock.sleep(latency / 2);
    inFlight--;
    last = clock.now();
    release();
  };
  await clock.run(Promise.all(Array.from({ length: requests }, one)));
  arrivals.sort((a, b) => a - b);
  let peakWindow = 0;
  for (let i = 0, j = 0; i < arrivals.length; i++) {
    while (arrivals[j] <= arrivals[i] - windowMs) j++;
    peakWindow = Math.max(peakWindow, i - j + 1);
  }
  return { elapsed: last, peakWindow, peakInFlight };
}

Deno.test("under the quota, requests go at once, as many as may be in flight", async () => {
  const clock = new FakeClock();
  const limiter = new Limiter({ requestsPerMinute: 1500, maxInFlight: 50, clock });
  const r = await simulate(limiter, clock, 1000, 50);
  assert.equal(r.peakInFlight, 50);
  // the floor: 1,000 requests × 50 ms ÷ 50 in flight = 1 s
  assert.equal(r.elapsed, 1000);
  assert.equal(clock.pending, 0);
});

Deno.test("over the quota, no window ever holds more than the quota, and the pace is the quota's", async () => {
  const clock = new FakeClock();
  const limiter = new Limiter({ requestsPerMinute: 1500, maxInFlight: 50, clock });
  const r = await simulate(limiter, clock, 4000, 50);
  assert.equal(r.peakWindow <= 1500, true, `a window held ${r.peakWindow}`);
  assert.equal(r.peakInFlight <= 50, true);
  // no schedule can do better: request i + N goes a window after request i, so the last
  // one goes ⌊(R − 1) ÷ N⌋ windows after the first = 120 s (the rate bound, 100 s, is lower)
  const floor = Math.floor((4000 - 1) / 1500) * 60_000;
  assert.equal(r.elapsed >= floor, true, `${r.elapsed} ms is under the floor`);
  assert.equal(r.elapsed <= floor * 1.02, true, `${r.elapsed} ms, floor ${floor} ms`);
});

Deno.test("without a quota only the in-flight cap applies", async () => {
  const clock = new FakeClock();
  const limiter = new Limiter({ maxInFlight: 4, clock });
  const r = await simulate(limiter, clock, 40, 10);
  assert.equal(r.peakInFlight, 4);
  assert.equal(r.elapsed, 100);
});

Deno.test("a 429 holds every request back and lowers the quota to what the server allowed", async () => {
  const clock = new FakeClock();
  const limiter = new Limiter({ requestsPerMinute: 1500, maxInFlight: 10, clock });
  // a server whose real quota is 100 a minute: it refuses the 101st request
  let served = 0;
  let refusedAt = -1;
  let grantedDuringPause = 0;
  const one = async () => {
    const release = await limiter.acquire();
    if (refusedAt >= 0 && clock.now() < refusedAt + 5_000) grantedDuringPause++;
    await clock.sleep(20);
    served++;
    if (served === 101) {
      refusedAt = clock.now();
      release(5_000);
      return;
    }
    release();
  };
  await clock.run(Promise.all(Array.from({ length: 300 }, one)));
  assert.equal(grantedDuringPause, 0, "requests went during the pause");
  assert.equal(limiter.allowed <= 1500, true);
  // lowered to 90% of the window at the refusal, then recovered by one per response
  assert.equal(limiter.allowed >= 90 && limiter.allowed < 1500, true, `allowed ${limiter.allowed}`);
});

Deno.test("after a 429 the lowered quota climbs back to the declared one over a window", async () => {
  const clock = new FakeClock();
  const limiter = new Limiter({ requestsPerMinute: 1000, maxInFlight: 5, windowMs: 10_000, clock });
  await simulate(limiter, clock, 50, 10, 10_000);
  limiter.pause(0);
  // 50 requests in the window: the quota is now 45, and 50 are still in it
  assert.equal(limiter.allowed, 45);
  const start = clock.now();
  const r = await simulate(limiter, clock, 10, 10, 10_000);
  // the next requests waited for the quota to climb (100 places a second) past 50
  assert.equal(clock.now() - start >= 50, true, `went after ${clock.now() - start} ms`);
  assert.equal(r.elapsed < 10_000, true, "waited for the old requests to leave instead");
  await clock.run(new Promise<void>((r) => clock.timer(10_000, r)));
  assert.equal(limiter.allowed, 1000);
});

Deno.test("a waiting acquire rejects when its signal aborts, and leaves no timer behind", async () => {
  const clock = new FakeClock();
  const limiter = new Limiter({ requestsPerMinute: 2, maxInFlight: 5, clock });
  const controller = new AbortController();
  const a = await limiter.acquire();
  a();
  (await limiter.acquire())();
  const waiting = limiter.acquire(controller.signal);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(clock.pending, 1, "the window is full: a timer waits for a place");
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  assert.equal(clock.pending, 0);
});

Deno.test("the snapshot says what waiting requests wait for: the window (and when a place frees), a 429's pause", async () => {
  const clock = new FakeClock();
  const limiter = new Limiter({ requestsPerMinute: 2, maxInFlight: 5, clock });
  assert.deepEqual(limiter.snapshot().waitingFor, undefined);
  for (let i = 0; i < 2; i++) (await limiter.acquire())();
  const third = limiter.acquire();
  await new Promise((r) => setTimeout(r, 0));
  const s = limiter.snapshot();
  assert.equal(s.inWindow, 2);
  assert.equal(s.quota, 2);
  assert.equal(s.waiting, 1);
  assert.equal(s.waitingFor, "window");
  assert.equal(s.nextInMs, 60_000);
  (await clock.run(third))(30_000);
  // the 429 asked for 30 s: the next request waits for that pause
  const fourth = limiter.acquire();
  await new Promise((r) => setTimeout(r, 0));
  const paused = limiter.snapshot();
  assert.equal(paused.waitingFor, "pause");
  assert.equal(paused.nextInMs, 30_000);
  (await clock.run(fourth))();
});
