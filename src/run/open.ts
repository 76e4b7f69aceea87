/**
 * The incremental side of a run, as a destination holds it: the stored schema, the
 * stored state and, for a database older than the state's `loaded_resources`, what its
 * last load recorded. One place for `run` and `plan`, so that the plan shows what the
 * run will do.
 *
 * @module
 */
import type { Plan } from "../plan/plan.ts";
import type { Destination } from "../load/destination.ts";
import type { StoredSchema } from "../normalize/schema.ts";
import { quoteIdent } from "../normalize/naming.ts";
import { keyText } from "../load/sql_rules.ts";
import { IncrementalRun, type IncrementalRunOptions } from "./incremental.ts";
import { checkStateFormat } from "./state.ts";

/** A run's incremental side, and the schema it was read with. */
export interface OpenedRun {
  incremental: IncrementalRun;
  /** The stored schema, or undefined for a new dataset. */
  schema: StoredSchema | undefined;
}

/** Reads what a run of `plan` on `dataset` starts from. */
export async function openIncrementalRun(
  dest: Destination,
  dataset: string,
  plan: Plan,
  options: Pick<IncrementalRunOptions, "fullRefresh" | "now"> = {},
): Promise<OpenedRun> {
  const state = await dest.readState(dataset);
  checkStateFormat(state, dataset);
  const schema = await dest.readSchema(dataset);
  // a database older than the state's loaded_resources: what its last load recorded
  const last = state.loaded_resources === undefined
    ? (await dest.loads(dataset, 20)).find((l) => l.status === "completed")
    : undefined;
  const storedParents: Record<string, readonly string[] | undefined> = Object.fromEntries(
    Object.entries(last?.resources ?? {}).map(([name, f]) => [name, f.parents]),
  );
  // older still: no load recorded its parents; the rows tell which parents were listed
  if (state.loaded_resources === undefined && schema) {
    for (const r of plan.resources.values()) {
      if (storedParents[r.name] !== undefined || r.parents.length < 2) continue;
      storedParents[r.name] = await parentsWithRows(dest, dataset, plan, schema, r.name);
    }
  }
  const incremental = new IncrementalRun(plan, state, {
    ...options,
    storedTables: new Set(Object.values(schema?.tables ?? {}).map((t) => t.resource)),
    storedParents,
  });
  return { incremental, schema };
}

/**
 * The parents of a union resource that some stored row of it was listed under (its
 * `_dlt_parent_key` is a key of that parent's table and of no other parent's), for a
 * database so old that no load
 * recorded them: a parent none of its rows point into was not listed (the stories of
 * subtasks, before stories had subtasks as a parent), and is backfilled. Undefined when
 * the resource has no stored table (every edge is new).
 */
async function parentsWithRows(
  dest: Destination,
  dataset: string,
  plan: Plan,
  schema: StoredSchema,
  resource: string,
): Promise<string[] | undefined> {
  const r = plan.resources.get(resource)!;
  const tableOf = (name: string) =>
    Object.entries(schema.tables).find(([, t]) => t.resource === name && t.parent === null);
  const own = tableOf(resource);
  if (!own || !(await hasTable(dest, dataset, own[0]))) return undefined;
  const ds = quoteIdent(dataset);
  // each parent's stored keys, as SQL (a key held by two parents' tables says nothing)
  const keysOf = new Map<string, string>();
  for (const p of r.parents) {
    const parent = tableOf(p);
    const keys = plan.resources.get(p)!.primaryKey.map((k) => k.replaceAll(".", "__"));
    if (!parent || keys.length === 0 || !(await hasTable(dest, dataset, parent[0]))) continue;
    if (!keys.every((k) => Object.hasOwn(parent[1].columns, k))) continue;
    keysOf.set(p, `select ${keyText("p", keys)} from ${ds}.${quoteIdent(parent[0])} p`);
  }
  const out: string[] = [];
  for (const [p, keys] of keysOf) {
    const others = [...keysOf].filter(([o]) => o !== p).map(([, k]) => k);
    const found = await dest.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from ${ds}.${quoteIdent(own[0])} c
       where c."_dlt_parent_key" in (${keys})${
        others.map((o) => ` and c."_dlt_parent_key" not in (${o})`).join("")
      } limit 1) x`,
    );
    if (found.rows[0].n > 0) out.push(p);
  }
  return out;
}

/** Does the dataset hold this table? */
async function hasTable(dest: Destination, dataset: string, table: string): Promise<boolean> {
  const r = await dest.query<{ n: number }>(
    `select count(*)::int as n from information_schema.tables
     where table_schema = $1 and table_name = $2`,
    [dataset, table],
  );
  return r.rows[0].n > 0;
}

/** A resource the next run backfills, and under how many existing parent records. */
export interface Backfill {
  resource: string;
  /** Its parents' existing records, per parent resource (undefined: no stored table). */
  parents: Record<string, number | undefined>;
}

/** What the next run of `plan` backfills: resources new to the database, or with new parents. */
export async function plannedBackfills(
  dest: Destination,
  dataset: string,
  plan: Plan,
): Promise<Backfill[]> {
  const { incremental, schema } = await openIncrementalRun(dest, dataset, plan);
  const out: Backfill[] = [];
  for (const name of plan.order) {
    if (!incremental.isNew(name)) continue;
    const r = plan.resources.get(name)!;
    const parents: Record<string, number | undefined> = {};
    for (const p of r.parents) {
      const table = plan.resources.get(p)!.table;
      // a parent fetched but never loaded has a schema entry and no table
      const exists = schema?.tables[table] !== undefined && (await dest.query<{ n: number }>(
            `select count(*)::int as n from information_schema.tables
             where table_schema = $1 and table_name = $2`,
            [dataset, table],
          )).rows[0].n > 0;
      parents[p] = exists
        ? (await dest.query<{ n: number }>(
          `select count(*)::int as n from ${quoteIdent(dataset)}.${quoteIdent(table)}`,
        )).rows[0].n
        : undefined;
    }
    out.push({ resource: name, parents });
  }
  return out;
}
