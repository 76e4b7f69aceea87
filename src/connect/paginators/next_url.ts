/**
 * `next_url`: the next page's URL from the body (`next_url_path`), absolute or
 * relative to the current page; none ends the listing.
 *
 * @module
 */
import * as v from "valibot";
import { getPath } from "../../core/paths.ts";
import { commonOptions } from "./common.ts";
import type { PaginatorType } from "./types.ts";

const schema = v.strictObject({
  type: v.literal("next_url"),
  ...commonOptions,
  /** Dotted path of the next page's absolute URL in the response body. */
  next_url_path: v.string(),
});

/** The `next_url` paginator. */
export const nextUrlPaginator: PaginatorType<typeof schema> = {
  type: "next_url",
  schema,
  multiPage: true,
  stopsOnEmptyPage: false,
  cursor: (p) => ({
    first() {},
    next(current, response) {
      const link = getPath(response.body, p.next_url_path);
      return typeof link === "string" && link !== "" ? new URL(link, current) : undefined;
    },
  }),
  params: () => [],
  advances: () => "its next-page link",
};
