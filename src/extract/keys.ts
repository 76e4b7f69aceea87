/**
 * The one canonical text form of a record's key, used wherever keys are compared:
 * merge, reconciliation, parent keys and incremental partitions. `1`, `"1"` and
 * `1n` are the same key; integers past 2^53 keep every digit; a timestamp is kept
 * exactly as the API sent it.
 *
 * @module
 */

/** One key value as canonical text. */
export function canonicalValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return value;
    case "bigint":
      return value.toString();
    case "number":
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) return BigInt(value).toString();
      return String(value);
    case "boolean":
      return String(value);
    case "undefined":
      return "";
    default:
      return value === null
        ? ""
        : JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v);
  }
}

/**
 * A key of one or more values as canonical text: a single value as itself, several as
 * a JSON list of their canonical texts (so that no two different keys share a form).
 *
 * @example
 * ```ts
 * import { canonicalKey } from "./keys.ts";
 * canonicalKey([1]) === canonicalKey(["1"]); // true
 * canonicalKey(["a/b", "c"]) === canonicalKey(["a", "b/c"]); // false
 * ```
 */
export function canonicalKey(values: readonly unknown[]): string {
  if (values.length === 1) return canonicalValue(values[0]);
  return JSON.stringify(values.map(canonicalValue));
}
