/**
 * The stored keys of reconciled resources, and their watched values (`reconcile.watch`):
 * fields whose change does not move a record's cursor (a task's subtask count). Both are
 * read once before a run, as a 53-bit hash of the values per record key. A key listing's
 * record whose key the table lacks (filed into a parent without moving its cursor), or
 * whose values hash otherwise, changed: it is listed again whole.
 *
 * @module
 */
import type { PlannedResource } from "../plan/plan.ts";
import type { Destination } from "../load/destination.ts";
import type { Normalizer } from "../normalize/normalize.ts";
import { quoteIdent } from "../normalize/naming.ts";
import { canonicalKey, watchHash } from "../core/keys.ts";
import { getPath } from "../core/paths.ts";

/** Stored watched values: resource → record key → hash of its values. */
export type Watched = ReadonlyMap<string, ReadonlyMap<string, number>>;

/**
 * The stored keys of each reconciled resource loaded before, each with the hash of its
 * `reconcile.watch` values (of none, for a resource that watches nothing). A resource
 * whose table lacks a watched field's column is left out (a field new to the spec is
 * compared from the run after the one that stores it).
 */
export async function readWatched(
  dest: Destination,
  dataset: string,
  normalizer: Normalizer,
  loaded: readonly PlannedResource[],
  loadedBefore: (resource: string) => boolean,
): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  for (const r of loaded) {
    if (!r.reconcile || !loadedBefore(r.name)) continue;
    const columns = r.reconcileWatch.map((f) => normalizer.storedColumn(r, f));
    if (columns.some((c) => c === undefined)) continue;
    const keys = normalizer.keyColumns(r);
    const select = [...keys, ...columns as string[]].map((c, i) => `${quoteIdent(c)} as c${i}`);
    const hashes = new Map<string, number>();
    await dest.readPages<Record<string, unknown>>(
      `select ${select.join(", ")} from ${quoteIdent(dataset)}.${
        quoteIdent(normalizer.rootTable(r))
      }`,
      10_000,
      // deno-lint-ignore require-await
      async (rows) => {
        for (const row of rows) {
          const values = select.map((_, i) => row[`c${i}`]);
          hashes.set(
            canonicalKey(values.slice(0, keys.length)),
            watchHash(values.slice(keys.length)),
          );
        }
      },
    );
    out.set(r.name, hashes);
  }
  return out;
}

/**
 * Did this listed record's watched values move from its stored row's? A record not
 * stored, or one the API sent without a watched field, says nothing (null is a value;
 * absent is not).
 */
export function watchedMoved(
  resource: PlannedResource,
  stored: ReadonlyMap<string, number>,
  key: string,
  record: unknown,
): boolean {
  const was = stored.get(key);
  if (was === undefined) return false;
  const values = resource.reconcileWatch.map((f) => getPath(record, f));
  if (values.includes(undefined)) return false;
  return was !== watchHash(values);
}
