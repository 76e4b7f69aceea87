/**
 * The table schemas a pipeline has built up: columns, types, which source key
 * each column came from, and which table is whose child. Stored in the database
 * with every load, so names stay stable across runs.
 *
 * @module
 */
import * as v from "valibot";
import type { Infer } from "../core/schemas.ts";
import { COLUMN_TYPES } from "../spec/schema.ts";

/**
 * One table: root (a resource's) or child (a list inside a record).
 *
 * @ignore
 */
export const TableSchemaSchema = v.object({
  /** The resource whose records fill this table (and its children). */
  resource: v.string(),
  /** The parent table, or null for a root table. */
  parent: v.nullable(v.string()),
  /** Columns in creation order. */
  columns: v.record(v.string(), v.object({ type: v.picklist(COLUMN_TYPES) })),
  /** Source key path (segments joined by "\u0001") → column name. */
  sources: v.record(v.string(), v.string()),
  /** Source key path of a list → child table name. */
  children: v.record(v.string(), v.string()),
});

/**
 * Every table of a dataset.
 *
 * @ignore
 */
export const StoredSchemaSchema = v.object({
  version: v.literal(1),
  tables: v.record(v.string(), TableSchemaSchema),
});

/** One table's schema. */
export type TableSchema = Infer<typeof TableSchemaSchema>;
/** A dataset's schema. */
export type StoredSchema = Infer<typeof StoredSchemaSchema>;

/** A schema with no tables. */
export function emptySchema(): StoredSchema {
  return { version: 1, tables: {} };
}

/** Root and child system columns, as dlt names them. */
export const SYSTEM_COLUMNS = {
  id: "_dlt_id",
  loadId: "_dlt_load_id",
  parentId: "_dlt_parent_id",
  listIndex: "_dlt_list_idx",
  rootId: "_dlt_root_id",
  /** On a child resource's rows: the key of the parent record they were fetched for. */
  parentKey: "_dlt_parent_key",
  /** scd2: when this version of the record was first loaded, and when it stopped being current. */
  validFrom: "_dlt_valid_from",
  validTo: "_dlt_valid_to",
  /** scd2: a hash of the record as the API sent it, to tell a changed version from the same. */
  hash: "_dlt_hash",
} as const;

/** The tables below `table` (children, grandchildren…), nearest first. */
export function descendants(schema: StoredSchema, table: string): string[] {
  const out: string[] = [];
  const queue = [table];
  while (queue.length > 0) {
    const t = queue.shift()!;
    for (const [name, s] of Object.entries(schema.tables)) {
      if (s.parent === t) {
        out.push(name);
        queue.push(name);
      }
    }
  }
  return out;
}
