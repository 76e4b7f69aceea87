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
  const incremental = new IncrementalRun(plan, state, {
    ...options,
    storedTables: new Set(Object.values(schema?.tables ?? {}).map((t) => t.resource)),
    storedParents: Object.fromEntries(
      Object.entries(last?.resources ?? {}).map(([name, f]) => [name, f.parents]),
    ),
  });
  return { incremental, schema };
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
