/**
 * `cursor`: the next page's token from the body (`cursor_path`) or a header
 * (`cursor_header`), sent back in `cursor_param`; no token ends the listing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cursorPaginator } from "./cursor.ts";
 * const c = cursorPaginator.cursor({ type: "cursor", cursor_path: "next", cursor_param: "after" });
 * const next = c.next(new URL("https://x.test/a"), { body: { next: "t2" }, headers: new Headers() }, [1]);
 * assert.deepEqual(next?.search, "?after=t2");
 * ```
 *
 * @module
 */
import * as v from "valibot";
import { getPath } from "../../core/paths.ts";
import { commonOptions } from "./common.ts";
import type { PaginatorType } from "./types.ts";

const schema = v.strictObject({
  type: v.literal("cursor"),
  ...commonOptions,
  /** Dotted path of the next cursor in the response body. */
  cursor_path: v.optional(v.string(), "next_page.offset"),
  /** A response header carrying the next cursor, instead of `cursor_path`. */
  cursor_header: v.optional(v.string()),
  /** Query parameter that carries the cursor. */
  cursor_param: v.optional(v.string(), "offset"),
});

/** The `cursor` paginator. */
export const cursorPaginator: PaginatorType<typeof schema> = {
  type: "cursor",
  schema,
  multiPage: true,
  stopsOnEmptyPage: false,
  cursor: (p) => ({
    first() {},
    next(current, response) {
      const cursor = p.cursor_header !== undefined
        ? response.headers.get(p.cursor_header)
        : getPath(response.body, p.cursor_path);
      if (cursor === undefined || cursor === null || cursor === "") return undefined;
      const next = new URL(current);
      next.searchParams.set(p.cursor_param, String(cursor));
      return next;
    },
  }),
  params: (p) => [p.cursor_param],
  advances: (p) => p.cursor_param,
};
