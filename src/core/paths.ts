/**
 * Dotted paths into records (`a.b.c`), as specs name fields.
 *
 * @module
 */

/**
 * Reads a dotted path (`a.b.c`) out of a record; `undefined` when any step is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getPath } from "./paths.ts";
 * assert.deepEqual(getPath({ next_page: { offset: "x" } }, "next_page.offset"), "x");
 * assert.deepEqual(getPath({ next_page: null }, "next_page.offset"), undefined);
 * ```
 */
export function getPath(record: unknown, path: string): unknown {
  let cur: unknown = record;
  if (path === "") return cur;
  for (const step of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[step];
  }
  return cur;
}
