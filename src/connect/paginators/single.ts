/**
 * `single`: one request, one page (an object or a list).
 *
 * @module
 */
import * as v from "valibot";
import type { PaginatorType } from "./types.ts";

const schema = v.strictObject({ type: v.literal("single") });

/** The `single` paginator. */
export const singlePaginator: PaginatorType<typeof schema> = {
  type: "single",
  schema,
  multiPage: false,
  stopsOnEmptyPage: false,
  cursor: () => ({ first() {}, next: () => undefined }),
  params: () => [],
  advances: () => "its next-page link",
};
