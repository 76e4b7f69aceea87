/**
 * The stored keys of reconciled resources, and their watched values (`reconcile.watch`):
 * fields whose change does not move a record's cursor (a task's subtask count). Both are
 * read once before a run, as a 53-bit hash of the values per record key. A key listing's
 * record whose key the table lacks (filed into a parent without moving its cursor), or
 * whose values hash otherwise, changed: it is listed again whole.
 *
 * @module
 */
import type { Plan, PlannedResource } from "../plan/plan.ts";
import type { Destination } from "../load/destination.ts";
import type { Normalizer } from "../normalize/normalize.ts";
import { SYSTEM_COLUMNS } from "../normalize/schema.ts";
import { quoteIdent } from "../normalize/naming.ts";
import { canonicalKey, watchHash } from "../core/keys.ts";
import { getPath } from "../core/paths.ts";

/** Stored watched values: resource → record key → hash of its values. */
export type Watched = ReadonlyMap<string, ReadonlyMap<string, number>>;

/**
 * The stored keys of each reconciled resource loaded before, in one read of its table:
 * each key with the hash of its `reconcile.watch` values (of none, for a resource that
 * watches nothing), and, for a resource with `reconcile.verify`, the parent each record
 * was last listed under and its key fields' values (see {@linkcode StoredOwner}). A
 * resource whose table lacks a watched field's column has no hashes (a field new to the
 * spec is compared from the run after the one that stores it).
 */
export async function readStoredKeys(
  dest: Destination,
  dataset: string,
  normalizer: Normalizer,
  loaded: readonly PlannedResource[],
  loadedBefore: (resource: string) => boolean,
): Promise<
  { watched: Map<string, Map<string, number>>; owners: Map<string, Map<string, StoredOwner>> }
> {
  const watched = new Map<string, Map<string, number>>();
  const owners = new Map<string, Map<string, StoredOwner>>();
  for (const r of loaded) {
    if (!r.reconcile || !loadedBefore(r.name)) continue;
    const found = r.reconcileWatch.map((f) => normalizer.storedColumn(r, f));
    const columns = found.some((c) => c === undefined) ? undefined : found as string[];
    const verify = r.reconcileVerify !== undefined;
    if (!columns && !verify) continue;
    const keys = normalizer.keyColumns(r);
    // the parent key column is there only for a resource that has parents
    const parent = verify && r.parents.length > 0 ? [SYSTEM_COLUMNS.parentKey] : [];
    const hashes = new Map<string, number>();
    const byKey = new Map<string, StoredOwner>();
    const table = normalizer.rootTable(r);
    await readRows(dest, dataset, table, [...keys, ...parent, ...columns ?? []], (values) => {
      const key = canonicalKey(values.slice(0, keys.length));
      const rest = values.slice(keys.length + parent.length);
      if (columns) hashes.set(key, watchHash(rest));
      if (verify) {
        const from = parent.length > 0 ? values[keys.length] : "";
        byKey.set(key, {
          parent: typeof from === "string" ? from : "",
          values: values.slice(0, keys.length),
        });
      }
    });
    if (columns) watched.set(r.name, hashes);
    if (verify) owners.set(r.name, byKey);
  }
  return { watched, owners };
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

/** Where a stored record below a feed-bearing resource sits: its resource and parent key. */
export interface StoredLink {
  /** The resource whose table holds the record. */
  resource: string;
  /** The key of the record it was listed under (`_dlt_parent_key`). */
  parent: string;
}

/** Stored records below feed-bearing resources: key → where it sits (one per table). */
export type StoredParents = ReadonlyMap<string, readonly StoredLink[]>;

/**
 * For each resource with a change feed, the parent key of every stored record of the
 * resources below it (any depth): how an event naming a subtask or a comment leads to
 * the record of the feed's resource it sits under. `stored`: the tables the dataset holds.
 */
export async function readStoredParents(
  dest: Destination,
  dataset: string,
  normalizer: Normalizer,
  plan: Plan,
  loaded: readonly PlannedResource[],
  stored: ReadonlySet<string>,
): Promise<Map<string, StoredLink[]>> {
  const out = new Map<string, StoredLink[]>();
  const below = new Set<string>();
  const visit = (name: string) => {
    for (const c of plan.resources.get(name)!.children) {
      if (below.has(c)) continue;
      below.add(c);
      visit(c);
    }
  };
  for (const r of plan.resources.values()) {
    if (!r.changes) continue;
    visit(r.name);
    // and the other children of the parents it has feeds under (a project's sections)
    for (const p of r.parents) {
      if (r.changes.parents && !r.changes.parents.includes(p)) continue;
      for (const c of plan.resources.get(p)?.children ?? []) below.add(c);
    }
  }
  // the columns each table holds in the database (a table of a resource that never had a
  // record may lack its key column; one the stored schema names may not exist yet)
  const held = new Map<string, Set<string>>();
  const cols = await dest.query<{ t: string; c: string }>(
    `select table_name as t, column_name as c from information_schema.columns
     where table_schema = $1`,
    [dataset],
  );
  for (const { t, c } of cols.rows) {
    if (!held.has(t)) held.set(t, new Set());
    held.get(t)!.add(c);
  }
  for (const r of loaded) {
    const table = normalizer.rootTable(r);
    if (!below.has(r.name) || !stored.has(table) || r.primaryKey.length === 0) continue;
    const keys = normalizer.keyColumns(r);
    const have = held.get(table);
    if (!have || ![...keys, SYSTEM_COLUMNS.parentKey].every((c) => have.has(c))) continue;
    const select = [...keys, SYSTEM_COLUMNS.parentKey].map((c, i) => `${quoteIdent(c)} as c${i}`);
    await dest.readPages<Record<string, unknown>>(
      `select ${select.join(", ")} from ${quoteIdent(dataset)}.${quoteIdent(table)}`,
      10_000,
      // deno-lint-ignore require-await
      async (rows) => {
        for (const row of rows) {
          const key = canonicalKey(keys.map((_, i) => row[`c${i}`]));
          const parent = row[`c${keys.length}`];
          if (typeof parent !== "string" || parent === "") continue;
          const link = { resource: r.name, parent };
          const list = out.get(key);
          if (!list) out.set(key, [link]);
          else if (!list.some((l) => l.parent === parent && l.resource === r.name)) list.push(link);
        }
      },
    );
  }
  return out;
}

/** A stored record of a resource that verifies its deletions: its parent, its key's values. */
export interface StoredOwner {
  /** The key of the parent record it was last listed under (`""` for a root resource). */
  parent: string;
  /** Its primary key fields' values. */
  values: unknown[];
}

/** Reads some columns of every row of a table, 10,000 rows at a time, in column order. */
async function readRows(
  dest: Destination,
  dataset: string,
  table: string,
  columns: readonly string[],
  onRow: (values: unknown[]) => void,
): Promise<void> {
  const select = columns.map((c, i) => `${quoteIdent(c)} as c${i}`);
  await dest.readPages<Record<string, unknown>>(
    `select ${select.join(", ")} from ${quoteIdent(dataset)}.${quoteIdent(table)}`,
    10_000,
    // deno-lint-ignore require-await
    async (rows) => {
      for (const row of rows) onRow(columns.map((_, i) => row[`c${i}`]));
    },
  );
}
