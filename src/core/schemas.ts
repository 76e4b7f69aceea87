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
 * import assert from "node:assert/strict";
 * import { oneOf } from "./schemas.ts";
 * assert.deepEqual(oneOf(["cursor", "offset", "single"]), "cursor, offset or single");
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

/**
 * The output type of a schema: every public type of a spec, a state or a stored
 * schema is one (`Infer<typeof SpecSchema>`), never written twice.
 *
 * @ignore
 */
export type Infer<T extends v.GenericSchema> = v.InferOutput<T>;

/**
 * The schema of a connector type's settings (a paginator's, an auth's): a strict
 * object whose `type` is a literal.
 *
 * @ignore
 */
export type SettingsSchema = v.StrictObjectSchema<
  v.ObjectEntries,
  v.ErrorMessage<v.StrictObjectIssue> | undefined
>;
