/**
 * A fake Asana API on 127.0.0.1 for tests, the demo and the bench (never exported by
 * restpipe's mod.ts), faithful to the real one where an extractor can
 * tell (../shared/reference/asana/API_NOTES.md): the `{data}` envelope, compact
 * listings, `opt_fields`, `limit` 1..100, opaque expiring offset tokens,
 * `next_page` only when `limit` is sent, 401/400/404 bodies, and a ground-truth view.
 *
 * @module
 */
import { FakeData, type FakeDataOptions } from "./data.ts";
import { Renderer } from "./render.ts";
import { ApiError, errorBody, json } from "./respond.ts";
import { PageTokens } from "./tokens.ts";
import { Listings } from "./listings.ts";
import { asanaRoutes } from "./routes.ts";
import { Throttle } from "./throttle.ts";
import { type FaultRule, randomFault, ruleFor } from "./faults.ts";
import { groundTruth, subtaskDepth } from "./truth.ts";

export { FakeData, type FakeDataOptions, Ref, sizedFor } from "./data.ts";
export type { AsanaObject, FakeEvent, Mutations } from "./data.ts";
export { type FieldTree, parseOptFields, Renderer } from "./render.ts";
export type { FaultRule } from "./faults.ts";

/** Options for {@linkcode startFakeAsana}. */
export interface FakeAsanaOptions extends FakeDataOptions {
  /** The token clients must send (default "fake-token-0123456789"). */
  token?: string;
  /** How long an offset token lives, in milliseconds (default 15 minutes). */
  offsetTtlMs?: number;
  /** Delay before each response, in milliseconds (default 0). */
  latencyMs?: number;
  /** Uniform jitter added to the latency: ± this many milliseconds (default 0). */
  jitterMs?: number;
  /**
   * Requests allowed per token in a sliding window, as Asana's per-minute quota (1,500 a
   * minute on paid plans, 150 on free ones). Rejected requests count too. Default: none.
   */
  rateLimit?: { requests: number; windowMs?: number };
  /** GETs in flight per token before a 429 (Asana: 50). Default: none. */
  maxInFlight?: number;
  /** Share of requests (0..1) answered with 500, 502, 503 or a dropped connection. */
  faultRate?: number;
  /** A premium (paid) organisation: goals, portfolios and dependencies answer; else 402. */
  premium?: boolean;
}

/** What the fake saw, for tests and benchmarks. */
export interface FakeStats {
  requests: number;
  /** 429s sent (rate or concurrency). */
  throttled: number;
  /** Injected 5xx and dropped connections. */
  faults: number;
  /** The most requests in flight at once. */
  peakInFlight: number;
  /** Expired offset tokens refused. */
  expired: number;
  /** When the first request arrived and the last response left (ms since the epoch; 0: none). */
  firstRequestAt: number;
  lastResponseAt: number;
}

/** A running fake. */
export interface FakeAsana {
  /** `http://127.0.0.1:PORT/api/1.0` */
  baseUrl: string;
  token: string;
  data: FakeData;
  /** Requests served, by route pattern. */
  requests: Map<string, number>;
  /** Faults to inject; edit at will. */
  faults: FaultRule[];
  /** Counters. */
  stats: FakeStats;
  /** Row counts of the eight seed resources as a full load should find them. */
  groundTruth(): Record<string, number>;
  close(): Promise<void>;
}

/** Starts the fake on a random loopback port. */
export function startFakeAsana(options: FakeAsanaOptions = {}): Promise<FakeAsana> {
  const data = new FakeData(options);
  const token = options.token ?? "fake-token-0123456789";
  const premium = options.premium ?? true;
  const faults: FaultRule[] = [];
  const secret = crypto.randomUUID();
  const stats: FakeStats = {
    requests: 0,
    throttled: 0,
    faults: 0,
    peakInFlight: 0,
    expired: 0,
    firstRequestAt: 0,
    lastResponseAt: 0,
  };
  const tokens = new PageTokens(secret, options.offsetTtlMs ?? 15 * 60_000, () => stats.expired++);
  const listings = new Listings(new Renderer(data.objects), tokens);
  const routes = asanaRoutes({
    data,
    list: (url, route, items) => listings.list(url, route, items),
    single: (url, route, obj) => listings.single(url, route, obj),
    count: (route) => listings.count(route),
    premium,
    syncPrefix: secret.slice(0, 8),
  });
  const throttle = new Throttle(options);
  const truth = () => groundTruth(data, premium);
  const delay = () => {
    const ms = (options.latencyMs ?? 0) + (Math.random() * 2 - 1) * (options.jitterMs ?? 0);
    return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
  };

  const handle = async (req: Request): Promise<Response> => {
    const control = new URL(req.url);
    if (control.pathname === "/__fake/stats") {
      return json(200, {
        ...stats,
        truth: truth(),
        requestFloor: listings.requestFloor(),
        requestFloorByRoute: listings.requestFloorByRoute(),
        requestsByRoute: Object.fromEntries(listings.requests),
        subtaskDepth: subtaskDepth(data),
      });
    }
    if (control.pathname === "/__fake/mutate") {
      // changes a share of the organisation (see FakeData.mutate); answers what changed
      const q = control.searchParams;
      const num = (k: string) => {
        const v = q.get(k);
        if (v === null) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new RangeError(`__fake/mutate: bad ${k}=${v}`);
        return n;
      };
      try {
        const m = data.mutate({
          touch: num("touch"),
          add: num("add"),
          remove: num("remove"),
          stories: num("stories"),
        });
        return json(200, { ...m, truth: truth() });
      } catch (e) {
        return json(400, { errors: [{ message: (e as Error).message }] });
      }
    }
    stats.requests++;
    if (stats.firstRequestAt === 0) stats.firstRequestAt = Date.now();
    throttle.inFlight++;
    stats.peakInFlight = Math.max(stats.peakInFlight, throttle.inFlight);
    try {
      return await respond(req);
    } finally {
      throttle.inFlight--;
      stats.lastResponseAt = Date.now();
    }
  };
  const respond = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (req.headers.get("authorization") !== `Bearer ${token}`) {
      await delay();
      return json(401, errorBody("Not Authorized", 401));
    }
    const limited = throttle.check();
    if (limited) stats.throttled++;
    await delay();
    if (limited) return limited;
    const broken = randomFault(options.faultRate);
    if (broken) {
      stats.faults++;
      return broken;
    }
    try {
      if (req.method !== "GET") throw new ApiError(404, "No matching route for request");
      const fault = ruleFor(faults, url.pathname);
      if (fault) {
        throw new ApiError(fault.status, fault.status >= 500 ? "Server Error" : "Injected fault");
      }
      for (const { re, handler } of routes) {
        const m = url.pathname.match(re);
        if (m) return handler(url, m.slice(1).map(decodeURIComponent));
      }
      throw new ApiError(404, "No matching route for request");
    } catch (e) {
      if (e instanceof ApiError) return json(e.status, errorBody(e.message, e.status));
      if (Deno.env.get("FAKE_DEBUG")) console.error(e);
      return json(500, errorBody("Server Error", 500));
    }
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        resolve({
          baseUrl: `http://127.0.0.1:${port}/api/1.0`,
          token,
          data,
          requests: listings.requests,
          faults,
          stats,
          groundTruth: truth,
          close: () => server.shutdown(),
        });
      },
    }, handle);
  });
}
