/**
 * Settings every paginator but `single` takes, and the helpers several types share.
 *
 * @module
 */
import * as v from "valibot";
import { positiveInt } from "../../core/schemas.ts";
import { getPath } from "../../core/paths.ts";
import type { PageResponse } from "./types.ts";

/**
 * An error answer that means "start this listing again from its first page"
 * (an expired pagination token); records already seen are not loaded twice.
 */
export const RestartOnSchema = v.strictObject({
  status: v.pipe(v.number(), v.integer(), v.minValue(400), v.maxValue(599)),
  /** Text the API's error message must contain. */
  message: v.optional(v.string()),
});

/** Options every paginator but `single` takes. */
export const commonOptions = {
  restart_on: v.optional(RestartOnSchema),
  /** Stop each listing after this many pages (also settable per resource). */
  max_pages: v.optional(positiveInt),
  /** Dotted path of a boolean in the body: `false` means this was the last page. */
  has_more_path: v.optional(v.string()),
  /**
   * Does an empty page end the listing? Default: yes for `offset` and `page_number`, no
   * for the paginators that follow a cursor or a link (an API may answer an empty page
   * that still has a next one).
   */
  stop_after_empty_page: v.optional(v.boolean()),
};

/** The common settings, as a multi-page paginator's validated settings hold them. */
export type CommonSettings = v.InferOutput<v.ObjectSchema<typeof commonOptions, undefined>>;

/** A total count from a body path or a response header, when the API gives one. */
export function totalOf(
  response: PageResponse,
  path: string | undefined,
  header: string | undefined,
): number | undefined {
  const raw = header !== undefined
    ? response.headers.get(header)
    : path !== undefined
    ? getPath(response.body, path)
    : undefined;
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}
