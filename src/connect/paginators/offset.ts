/**
 * `offset`: `offset` and `limit` (or an end index) in the query; the listing ends at
 * the total count when the API gives one, else at a short page (or `has_more_path`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offsetPaginator } from "./offset.ts";
 * import * as v from "valibot";
 * const settings = v.parse(offsetPaginator.schema, { type: "offset", limit: 2 });
 * const c = offsetPaginator.cursor(settings);
 * const url = new URL("https://x.test/items");
 * c.first(url);
 * assert.equal(url.search, "?offset=0&limit=2");
 * assert.deepEqual(c.next(url, { body: [], headers: new Headers() }, [1, 2])?.search, "?offset=2&limit=2");
 * ```
 *
 * @module
 */
import * as v from "valibot";
import { positiveInt } from "../../core/schemas.ts";
import { commonOptions, totalOf } from "./common.ts";
import type { PaginatorType } from "./types.ts";

const schema = v.strictObject({
  type: v.literal("offset"),
  ...commonOptions,
  limit: positiveInt,
  offset_param: v.optional(v.string(), "offset"),
  limit_param: v.optional(v.string(), "limit"),
  /** Send the end index (`_start=20&_end=40`) in this parameter instead of the limit. */
  end_param: v.optional(v.string()),
  /** Dotted path of the total count, when the API returns one. */
  total_path: v.optional(v.string()),
  /** A response header with the total count (`X-Total-Count`). */
  total_header: v.optional(v.string()),
});

type Settings = v.InferOutput<typeof schema>;

/** Sets an offset paginator's parameters: offset and limit, or offset and end index. */
function setOffset(url: URL, p: Settings, offset: number): void {
  url.searchParams.set(p.offset_param, String(offset));
  if (p.end_param !== undefined) url.searchParams.set(p.end_param, String(offset + p.limit));
  else url.searchParams.set(p.limit_param, String(p.limit));
}

/** The `offset` paginator. */
export const offsetPaginator: PaginatorType<typeof schema> = {
  type: "offset",
  schema,
  multiPage: true,
  stopsOnEmptyPage: true,
  cursor: (p) => {
    let offset = 0;
    return {
      first: (url) => setOffset(url, p, 0),
      next(current, response, records) {
        offset += p.limit;
        const total = totalOf(response, p.total_path, p.total_header);
        const more = total !== undefined
          ? offset < total
          : p.has_more_path !== undefined || records.length >= p.limit;
        if (!more) return undefined;
        const next = new URL(current);
        setOffset(next, p, offset);
        return next;
      },
    };
  },
  params: (p) => [p.offset_param, p.end_param ?? p.limit_param],
  advances: (p) => p.offset_param,
};
