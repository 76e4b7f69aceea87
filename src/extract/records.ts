/**
 * Records as a request chain holds them: their keys, their ancestors, and the parent
 * fields copied into them.
 *
 * @module
 */
import type { PlannedResource } from "../plan/plan.ts";
import { canonicalKey } from "../core/keys.ts";
import { getPath } from "../core/paths.ts";
import { stringifyJson } from "../core/json.ts";
import type { ApiRecord } from "./observer.ts";

/**
 * The ancestor records of a request chain, nearest first, each with the partition
 * (parent key and `for_each` item) of the chain that returned it.
 */
export type Ancestry = readonly { resource: string; record: ApiRecord; partition: string }[];

/** A record's primary key in its canonical text form (also a child's parent key). */
export function keyOf(resource: PlannedResource, record: ApiRecord): string {
  return canonicalKey(resource.primaryKey.map((k) => getPath(record, k)));
}

/** What tells two records of a listing apart: the key, or the whole record without one. */
export function recordKey(resource: PlannedResource, record: ApiRecord): string {
  if (resource.primaryKey.length === 0) return stringifyJson(record);
  return keyOf(resource, record);
}

/** A listed value as a record (a scalar becomes `{value}`), with its parent's fields copied in. */
export function withParentFields(
  resource: PlannedResource,
  raw: unknown,
  ancestry: Ancestry,
): ApiRecord {
  const record: ApiRecord = typeof raw === "object" && raw !== null && !Array.isArray(raw)
    ? raw as ApiRecord
    : { value: raw };
  const parent = ancestry[0]?.record;
  for (const [column, path] of Object.entries(resource.includeFromParent)) {
    record[column] = parent === undefined ? null : getPath(parent, path) ?? null;
  }
  return record;
}
