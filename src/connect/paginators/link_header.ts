/**
 * `link_header`: the next page's URL from the `Link` header's `rel` (RFC 8288), as
 * GitHub and many others send it; none ends the listing.
 *
 * @module
 */
import * as v from "valibot";
import { commonOptions } from "./common.ts";
import type { PaginatorType } from "./types.ts";

const schema = v.strictObject({
  type: v.literal("link_header"),
  ...commonOptions,
  rel: v.optional(v.string(), "next"),
});

/**
 * The URL of the link with this `rel` in a `Link` header, if any. A link's `rel` is a
 * list of relation types (RFC 8288 §3.3), compared whole and without regard to case:
 * `rel="next last"` is a next link, `rel="nextish"` is not.
 */
export function nextLink(header: string | null, rel: string): string | undefined {
  if (!header) return undefined;
  const wanted = rel.toLowerCase();
  for (const part of header.split(",")) {
    const m = part.match(/<([^>]+)>\s*;(.*)/);
    const value = m?.[2].match(/(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;]+))/i);
    const types = (value?.[1] ?? value?.[2] ?? "").toLowerCase().split(/\s+/);
    if (m && types.includes(wanted)) return m[1];
  }
  return undefined;
}

/** The `link_header` paginator. */
export const linkHeaderPaginator: PaginatorType<typeof schema> = {
  type: "link_header",
  schema,
  multiPage: true,
  stopsOnEmptyPage: false,
  cursor: (p) => ({
    first() {},
    next(current, response) {
      const link = nextLink(response.headers.get("link"), p.rel);
      return link ? new URL(link, current) : undefined;
    },
  }),
  params: () => [],
  advances: () => "its next-page link",
};
