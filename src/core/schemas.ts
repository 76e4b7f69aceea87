/**
 * Small valibot pieces the spec language and the connector tables share, with error
 * messages a user can act on.
 *
 * @module
 */
import * as v from "valibot";

/**
 * Formats the list of allowed values the way error messages show it: `a, b or c`.
 *
 * @example
 * ```ts
 * import { oneOf } from "./schemas.ts";
 * oneOf(["cursor", "offset", "single"]); // "cursor, offset or single"
 * ```
 */
export function oneOf(values: readonly string[]): string {
  if (values.length <= 1) return values.join("");
  return `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
}

/** One of these strings, with an error message that lists them. */
export function picklist<const T extends readonly [string, ...string[]]>(
  values: T,
): v.PicklistSchema<T, (issue: v.PicklistIssue) => string> {
  return v.picklist(
    values,
    (issue) => `expected ${oneOf(values)}, got ${issue.received}`,
  );
}

/** A whole number of at least 1. */
export const positiveInt = v.pipe(
  v.number(),
  v.integer("expected a whole number"),
  v.minValue(1, "expected a number of at least 1"),
);
