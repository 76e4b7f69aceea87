/**
 * `page_number`: a page number in the query, from `base_page`; the listing ends at the
 * number of pages when the API gives it (or a total count with `limit`), else at an
 * empty page.
 *
 * @module
 */
import * as v from "valibot";
import { positiveInt } from "../../core/schemas.ts";
import { getPath } from "../../core/paths.ts";
import { commonOptions, totalOf } from "./common.ts";
import type { PaginatorType } from "./types.ts";

const schema = v.strictObject({
  type: v.literal("page_number"),
  ...commonOptions,
  page_param: v.optional(v.string(), "page"),
  /** The first page's number (1 unless the API counts from 0). */
  base_page: v.optional(v.number(), 1),
  /** Records per page, sent in `limit_param` (and used with a total count). */
  limit: v.optional(positiveInt),
  limit_param: v.optional(v.string(), "limit"),
  /** Dotted path of the number of pages, when the API returns one. */
  total_pages_path: v.optional(v.string()),
  /** Dotted path of the total count of records (needs `limit`). */
  total_path: v.optional(v.string()),
  /** A response header with the total count of records (needs `limit`). */
  total_header: v.optional(v.string()),
});

/** The `page_number` paginator. */
export const pageNumberPaginator: PaginatorType<typeof schema> = {
  type: "page_number",
  schema,
  multiPage: true,
  stopsOnEmptyPage: true,
  cursor: (p) => {
    let page = p.base_page;
    return {
      first(url) {
        url.searchParams.set(p.page_param, String(page));
        if (p.limit !== undefined) url.searchParams.set(p.limit_param, String(p.limit));
      },
      next(current, response) {
        page++;
        const recordTotal = totalOf(response, p.total_path, p.total_header);
        const pagesTotal = p.total_pages_path
          ? Number(getPath(response.body, p.total_pages_path))
          : recordTotal !== undefined && p.limit !== undefined
          ? Math.ceil(recordTotal / p.limit)
          : NaN;
        const last = p.base_page + (Number.isFinite(pagesTotal) ? pagesTotal : Infinity) - 1;
        if (page > last) return undefined;
        const next = new URL(current);
        next.searchParams.set(p.page_param, String(page));
        return next;
      },
    };
  },
  params: (p) => [p.page_param, ...(p.limit !== undefined ? [p.limit_param] : [])],
  advances: (p) => p.page_param,
};
