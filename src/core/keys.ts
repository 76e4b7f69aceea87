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
 * import assert from "node:assert/strict";
 * import { canonicalKey } from "./keys.ts";
 * assert.deepEqual(canonicalKey([1]) === canonicalKey(["1"]), true);
 * assert.deepEqual(canonicalKey(["a/b", "c"]) === canonicalKey(["a", "b/c"]), false);
 * ```
 */
export function canonicalKey(values: readonly unknown[]): string {
  if (values.length === 1) return canonicalValue(values[0]);
  return JSON.stringify(values.map(canonicalValue));
}

/** A 53-bit hash of a text (cyrb53, public domain): fast, well spread, not cryptographic. */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed, h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

const INSTANT_PREFIX = /^\d{4}-\d{2}-\d{2}/;

/**
 * The moment an ISO date or instant text names (milliseconds since the epoch, whatever
 * its offset), or undefined for any other text.
 */
export function instantOf(text: string): number | undefined {
  if (!INSTANT_PREFIX.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}

/** One watched value in a form a listed record and its stored row share. */
function comparable(value: unknown): string {
  if (value === null || value === undefined) return "\u0000";
  if (value instanceof Date) return `@${value.getTime()}`;
  const t = typeof value === "string" ? instantOf(value) : undefined;
  return t === undefined ? canonicalValue(value) : `@${t}`;
}

/**
 * A 53-bit hash of a record's watched values (`reconcile.watch`), the same for the
 * listed record and for its stored row: an instant equals its stored date, a number
 * its stored text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { watchHash } from "./keys.ts";
 * assert.equal(
 *   watchHash([2, "2024-05-01T10:00:00.000Z"]),
 *   watchHash(["2", new Date("2024-05-01T10:00:00Z")]),
 * );
 * ```
 */
export function watchHash(values: readonly unknown[]): number {
  return hash53(JSON.stringify(values.map(comparable)));
}
