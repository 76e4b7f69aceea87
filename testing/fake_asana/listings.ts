/**
 * Listings and single objects as Asana serves them: `limit` 1..100, page tokens,
 * `opt_fields`, `next_page` only when `limit` is sent; and the data's request floor
 * (the fewest requests that could have read every listing served).
 *
 * @module
 */
import type { AsanaObject } from "./data.ts";
import { parseOptFields, type Renderer } from "./render.ts";
import { ApiError, json } from "./respond.ts";
import type { PageTokens } from "./tokens.ts";

/** Query parameters that do not name a listing: paging and projection. */
const PAGING = ["offset", "limit", "opt_fields", "opt_pretty"];

/** Serves listings and single objects, and counts what it served. */
export class Listings {
  /** Requests served, by route pattern. */
  readonly requests: Map<string, number> = new Map();
  /**
   * Every distinct listing served (path and params, without paging, fields or
   * `modified_since`) with the most records it held.
   */
  readonly #served = new Map<string, { route: string; size: number }>();
  readonly #renderer: Renderer;
  readonly #tokens: PageTokens;

  /** Creates the server of listings. */
  constructor(renderer: Renderer, tokens: PageTokens) {
    this.#renderer = renderer;
    this.#tokens = tokens;
  }

  /** Counts one request of a route. */
  count(route: string): void {
    this.requests.set(route, (this.requests.get(route) ?? 0) + 1);
  }

  /** A listing: limit, offset, opt_fields, next_page. */
  list(url: URL, route: string, items: AsanaObject[]): Response {
    const q = url.searchParams;
    const limitText = q.get("limit");
    let limit: number | undefined;
    if (limitText !== null) {
      limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        throw new ApiError(400, "limit: The limit value must be between 1 and 100.");
      }
    }
    const scope = [...q.entries()]
      .filter(([k]) => !PAGING.includes(k))
      .map(([k, val]) => `${k}=${val}`)
      .sort()
      .join("&") + `|${url.pathname}`;
    const offsetText = q.get("offset");
    const start = offsetText === null ? 0 : this.#tokens.read(offsetText, scope);
    if (limit === undefined && items.length > 1000) {
      throw new ApiError(
        400,
        "The result is too large. You should use pagination (may require specifying a workspace)!",
      );
    }
    const end = limit === undefined ? items.length : Math.min(items.length, start + limit);
    const fields = q.get("opt_fields");
    const tree = fields ? parseOptFields(fields) : undefined;
    const page = items.slice(start, end).map((o) =>
      tree ? this.#renderer.project(o, tree) : this.#renderer.compact(o)
    );
    const body: Record<string, unknown> = { data: page };
    if (limit !== undefined) {
      if (end < items.length) {
        const offset = this.#tokens.make(end, scope);
        const next = new URL(url);
        next.searchParams.set("offset", offset);
        const path = next.pathname.replace(/^\/api\/1\.0/, "") + next.search;
        body.next_page = { offset, path, uri: next.toString() };
      } else {
        body.next_page = null;
      }
    }
    this.count(route);
    this.#note(url, route, items.length);
    return json(200, body);
  }

  /** One object: full, or projected by `opt_fields`. */
  single(url: URL, route: string, obj: AsanaObject): Response {
    const fields = url.searchParams.get("opt_fields");
    this.count(route);
    this.#note(url, route, 1);
    return json(200, {
      data: fields ? this.#renderer.project(obj, parseOptFields(fields)) : this.#renderer.full(obj),
    });
  }

  #note(url: URL, route: string, size: number): void {
    const key = url.pathname + "?" + [...url.searchParams.entries()]
      .filter(([k]) => !PAGING.includes(k) && k !== "modified_since")
      .map(([k, v]) => `${k}=${v}`).sort().join("&");
    this.#served.set(key, { route, size: Math.max(this.#served.get(key)?.size ?? 0, size) });
  }

  /** The request floor of the listings served so far, per route pattern. */
  requestFloorByRoute(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { route, size } of this.#served.values()) {
      out[route] = (out[route] ?? 0) + Math.ceil(size / 100);
    }
    return out;
  }

  /** The request floor of the listings served so far: one request per 100 records. */
  requestFloor(): number {
    return Object.values(this.requestFloorByRoute()).reduce((a, b) => a + b, 0);
  }
}
