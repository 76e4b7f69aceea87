/**
 * What a dataset holds: tables with rows, columns and their last load.
 *
 * @module
 */
import {
  type Destination,
  type LoadRecord,
  LOADS_TABLE,
  STATE_TABLE,
  VERSION_TABLE,
  VIEWS_TABLE,
} from "./load/destination.ts";
import { quoteIdent as q } from "./normalize/naming.ts";

/** One table of a dataset. */
export interface TableSummary {
  /** The table name. */
  name: string;
  /** The parent table for a child table, else null. */
  parent: string | null;
  /** The resource that fills it. */
  resource: string | null;
  /** Rows in the table. */
  rows: number;
  /** Columns in the table. */
  columns: number;
  /** The last completed load that wrote this table. */
  lastLoad: { loadId: string; finishedAt: string; rows: number } | null;
}

/** A dataset's tables and recent loads. */
export interface DatasetSummary {
  /** The dataset (Postgres schema). */
  dataset: string;
  /** Its tables, system tables last. */
  tables: TableSummary[];
  /** Its loads, newest first. */
  loads: {
    loadId: string;
    status: string;
    startedAt: string;
    finishedAt: string;
    error: string | null;
    /** Rows the load wrote, over every table. */
    rows: number;
    /** Requests it made (null for loads older than the per-resource record). */
    requests: number | null;
  }[];
}

const SYSTEM = new Set([LOADS_TABLE, STATE_TABLE, VERSION_TABLE, VIEWS_TABLE]);

/** Summarises a dataset; an unknown dataset has no tables. */
export async function describeDataset(
  dest: Destination,
  dataset: string,
): Promise<DatasetSummary> {
  const loads: LoadRecord[] = await dest.loads(dataset, 1000);
  const schema = await dest.readSchema(dataset);
  const tablesResult = await dest.query<{ table_name: string; columns: number }>(
    `select table_name, count(*)::int as columns from information_schema.columns
     where table_schema = $1 group by table_name order by table_name`,
    [dataset],
  );
  const names = tablesResult.rows.map((r) => r.table_name).filter((n) => !SYSTEM.has(n));
  // every table's row count in one statement: one round trip, not one per table
  const counts = new Map<string, number>();
  if (names.length > 0) {
    const result = await dest.query<{ t: string; n: number }>(
      names.map((name, i) =>
        `select $${i + 1}::text as t, count(*)::int as n from ${q(dataset)}.${q(name)}`
      ).join(" union all "),
      names,
    );
    for (const r of result.rows) counts.set(r.t, Number(r.n));
  }
  const tables: TableSummary[] = [];
  for (const { table_name: name, columns } of tablesResult.rows) {
    if (SYSTEM.has(name)) continue;
    const last = loads.find((l) => l.status === "completed" && name in l.rows);
    tables.push({
      name,
      parent: schema?.tables[name]?.parent ?? null,
      resource: schema?.tables[name]?.resource ?? null,
      rows: counts.get(name) ?? 0,
      columns,
      lastLoad: last
        ? {
          loadId: last.load_id,
          finishedAt: last.finished_at.toISOString(),
          rows: last.rows[name],
        }
        : null,
    });
  }
  return {
    dataset,
    tables: orderTree(tables),
    loads: loads.map((l) => ({
      loadId: l.load_id,
      status: l.status,
      startedAt: l.started_at.toISOString(),
      finishedAt: l.finished_at.toISOString(),
      error: l.error,
      rows: Object.values(l.rows ?? {}).reduce((a, b) => a + b, 0),
      requests: l.resources ? Object.values(l.resources).reduce((a, r) => a + r.requests, 0) : null,
    })),
  };
}

/** Root tables in name order, each followed by its children (depth first). */
function orderTree(tables: TableSummary[]): TableSummary[] {
  const out: TableSummary[] = [];
  const names = new Set(tables.map((t) => t.name));
  const visit = (parent: string | null) => {
    for (const t of tables) {
      const p = t.parent !== null && names.has(t.parent) ? t.parent : null;
      if (p === parent) {
        out.push(t);
        visit(t.name);
      }
    }
  };
  visit(null);
  return out;
}

/** The depth of a table in the tree (0 for a root). */
export function depthOf(table: TableSummary, all: TableSummary[]): number {
  let depth = 0;
  let parent = table.parent;
  while (parent !== null) {
    depth++;
    parent = all.find((t) => t.name === parent)?.parent ?? null;
  }
  return depth;
}

/** One table's columns (with types) and a few sample rows. */
export interface TableDetail {
  dataset: string;
  table: string;
  parent: string | null;
  rows: number;
  columns: { name: string; type: string }[];
  sample: Record<string, unknown>[];
}

/** A table's columns and their types, in order; none when there is no such table. */
export async function columnsOf(
  dest: Destination,
  dataset: string,
  table: string,
): Promise<{ name: string; type: string }[]> {
  const cols = await dest.query<{ column_name: string; data_type: string }>(
    `select column_name, data_type from information_schema.columns
     where table_schema = $1 and table_name = $2 order by ordinal_position`,
    [dataset, table],
  );
  return cols.rows.map((c) => ({ name: c.column_name, type: c.data_type }));
}

/** Describes one table; undefined when the dataset has no such table. */
export async function describeTable(
  dest: Destination,
  dataset: string,
  table: string,
  sampleRows = 5,
): Promise<TableDetail | undefined> {
  const columns = await columnsOf(dest, dataset, table);
  if (columns.length === 0) return undefined;
  const target = `${q(dataset)}.${q(table)}`;
  const count = await dest.query<{ n: number }>(`select count(*)::int as n from ${target}`);
  const sample = await dest.query<Record<string, unknown>>(
    `select * from ${target} limit $1`,
    [sampleRows],
  );
  const schema = await dest.readSchema(dataset);
  return {
    dataset,
    table,
    parent: schema?.tables[table]?.parent ?? null,
    rows: count.rows[0].n,
    columns,
    sample: sample.rows,
  };
}
