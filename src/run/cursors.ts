/**
 * Cursor arithmetic: how incremental cursors order, where a listing starts (the stored
 * cursor less its lag), and which records sit at a cursor's boundary. Partitions name
 * where a cursor lives: one per parent record (and `for_each` item; `partitionOf` in
 * extract/observer.ts names them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareCursors, lagged, partitionUnder } from "./cursors.ts";
 * assert.deepEqual(compareCursors("9", "10") < 0, true);
 * assert.deepEqual(compareCursors("2024-05-01T12:00:00+02:00", "2024-05-01T11:00:00Z") < 0, true);
 * assert.deepEqual(lagged("2024-05-01T12:00:00.000Z", 60), "2024-05-01T11:59:00.000Z");
 * assert.deepEqual(partitionUnder("1204#open", new Set(["1204"])), true);
 * ```
 *
 * @module
 */
import { canonicalValue, instantOf } from "../core/keys.ts";
import { getPath } from "../core/paths.ts";

const NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * Orders two cursor values: as numbers when both are numbers (`9` before `10`), as
 * instants when both are ISO dates (whatever their offsets), else as strings.
 */
export function compareCursors(a: string, b: string): number {
  if (NUMBER.test(a) && NUMBER.test(b)) {
    if (!a.includes(".") && !b.includes(".")) {
      const d = BigInt(a) - BigInt(b);
      return d < 0n ? -1 : d > 0n ? 1 : 0;
    }
    return Number(a) - Number(b);
  }
  const ta = instantOf(a);
  const tb = ta === undefined ? undefined : instantOf(b);
  if (ta !== undefined && tb !== undefined && ta !== tb) return ta - tb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The cursor less the lag, when it is an instant (the lower bound a listing asks for). */
export function lagged(cursor: string, lagSeconds: number): string {
  const t = Date.parse(cursor);
  return lagSeconds === 0 || Number.isNaN(t)
    ? cursor
    : new Date(t - lagSeconds * 1000).toISOString();
}

/** The entries whose cursor value the next listing returns again: at least the lagged cursor. */
export function nearCursor(
  entries: ReadonlyMap<string, string>,
  cursor: string,
  lagSeconds: number,
): Map<string, string> {
  const from = lagged(cursor, lagSeconds);
  return new Map([...entries].filter(([, v]) => compareCursors(v, from) >= 0));
}

/** A record's cursor value in canonical text, if it has one. */
export function cursorValue(record: unknown, path: string): string | undefined {
  const raw = getPath(record, path);
  if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "bigint") {
    return undefined;
  }
  return canonicalValue(raw);
}

/** Is this partition one of the parent keys' (the key itself, or the key, "#" and an item)? */
export function partitionUnder(partition: string, parents: ReadonlySet<string>): boolean {
  if (parents.has(partition)) return true;
  for (let i = partition.indexOf("#"); i >= 0; i = partition.indexOf("#", i + 1)) {
    if (parents.has(partition.slice(0, i))) return true;
  }
  return false;
}
