/**
 * Records → rows: nested objects flatten into `a__b` columns, lists become child
 * tables `parent__field`, types are inferred and the table schemas evolve.
 *
 * @module
 */
import type { PlannedResource } from "../plan/plan.ts";
import { fitIdentifier, joinPath, PATH_SEPARATOR, snakeCase, uniqueName } from "./naming.ts";
import { type StoredSchema, SYSTEM_COLUMNS as S, type TableSchema } from "./schema.ts";
import { type DataType, fit, inferType, NO_FIT, VARIANT_SUFFIX } from "./types.ts";

/** A row: column name → value. */
export type Row = Record<string, unknown>;

/** Rows of one batch, by table name. */
export type TableRows = Map<string, Row[]>;

/** Source-path segment separator inside stored schemas. */
const SEP = "\u0001";

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Turns records into rows and grows the schema as it meets new fields. */
export class Normalizer {
  /** The schema, updated in place. */
  readonly schema: StoredSchema;
  readonly #loadId: string;
  readonly #idPrefix: string;
  #nextId = 0;

  /** Starts from the stored schema (or an empty one) for a load. */
  constructor(schema: StoredSchema, loadId: string) {
    this.schema = schema;
    this.#loadId = loadId;
    this.#idPrefix = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
  }

  /** The root table of a resource, created on first use. */
  rootTable(resource: PlannedResource): string {
    for (const [name, t] of Object.entries(this.schema.tables)) {
      if (t.resource === resource.name && t.parent === null) {
        if (resource.parents.length > 0) t.columns[S.parentKey] ??= { type: "text" };
        return name;
      }
    }
    const name = uniqueName(
      fitIdentifier(snakeCase(resource.table)),
      (n) => n in this.schema.tables,
    );
    const table: TableSchema = {
      resource: resource.name,
      parent: null,
      columns: {},
      sources: {},
      children: {},
    };
    this.schema.tables[name] = table;
    for (const [col, type] of Object.entries(resource.columns)) {
      const column = joinPath(col.split(PATH_SEPARATOR));
      table.columns[column] = { type: type as DataType };
      table.sources[col.split(PATH_SEPARATOR).join(SEP)] = column;
    }
    table.columns[S.id] = { type: "text" };
    table.columns[S.loadId] = { type: "text" };
    if (resource.parents.length > 0) table.columns[S.parentKey] = { type: "text" };
    return name;
  }

  /** The column names of a resource's primary key in its root table. */
  keyColumns(resource: PlannedResource): string[] {
    const table = this.schema.tables[this.rootTable(resource)];
    return resource.primaryKey.map((k) => this.#column(table, k.split(".").join(SEP), null));
  }

  /**
   * Normalises one page of a resource's records into rows of its tables; `parentKey`
   * (the parent record's key) is kept on the rows of a child resource.
   */
  normalize(
    resource: PlannedResource,
    records: readonly unknown[],
    out: TableRows,
    parentKey = "",
  ): void {
    const tableName = this.rootTable(resource);
    const table = this.schema.tables[tableName];
    for (const record of records) {
      const id = this.#id();
      const row: Row = { [S.id]: id, [S.loadId]: this.#loadId };
      if (resource.parents.length > 0) row[S.parentKey] = parentKey;
      const rowsOf = (t: string) => {
        let list = out.get(t);
        if (!list) out.set(t, list = []);
        return list;
      };
      rowsOf(tableName).push(row);
      const obj = isPlainObject(record) ? record : { value: record };
      this.#flatten(obj, tableName, table, row, "", 0, resource.maxNesting, id, rowsOf);
    }
  }

  /** A row id: unique, and (fixed width) sorting in creation order within a load. */
  #id(): string {
    return this.#idPrefix + (this.#nextId++).toString(36).padStart(10, "0");
  }

  #flatten(
    obj: Record<string, unknown>,
    tableName: string,
    table: TableSchema,
    row: Row,
    prefix: string,
    depth: number,
    maxNesting: number,
    rootId: string,
    rowsOf: (t: string) => Row[],
  ): void {
    for (const key in obj) {
      const value = obj[key];
      if (value === null || value === undefined) continue;
      // the source path, segments joined by SEP (arrays only when a column is created)
      const path = prefix === "" ? key : prefix + SEP + key;
      if (Array.isArray(value) || isPlainObject(value)) {
        const asJson = depth + 1 > maxNesting || this.#isJsonColumn(table, path);
        if (asJson) {
          this.#assign(table, row, path, value, "jsonb");
        } else if (isPlainObject(value)) {
          this.#flatten(value, tableName, table, row, path, depth + 1, maxNesting, rootId, rowsOf);
        } else {
          const childName = this.#childTable(tableName, table, path);
          const child = this.schema.tables[childName];
          const rows = rowsOf(childName);
          for (let i = 0; i < value.length; i++) {
            const item = value[i];
            const childRow: Row = {
              [S.id]: this.#id(),
              [S.parentId]: row[S.id],
              [S.listIndex]: i,
              [S.rootId]: rootId,
            };
            rows.push(childRow);
            const itemObj = isPlainObject(item) ? item : { value: item };
            this.#flatten(
              itemObj,
              childName,
              child,
              childRow,
              "",
              depth + 1,
              maxNesting,
              rootId,
              rowsOf,
            );
          }
        }
      } else {
        this.#assign(table, row, path, value, inferType(value));
      }
    }
  }

  #isJsonColumn(table: TableSchema, path: string): boolean {
    const col = table.sources[path];
    return col !== undefined && table.columns[col]?.type === "jsonb";
  }

  /** Stores a value in its column, or in a variant column when the types conflict. */
  #assign(table: TableSchema, row: Row, path: string, value: unknown, type: DataType): void {
    const column = this.#column(table, path, type);
    const have = table.columns[column].type;
    if (have === type) { // inferType already checked the value: the common, fast case
      row[column] = value;
      return;
    }
    // numbers widen: a bigint column that meets a fraction becomes double precision
    if (type === "double precision" && table.columns[column].type === "bigint") {
      table.columns[column].type = "double precision";
    }
    const fitted = fit(table.columns[column].type, value);
    if (fitted !== NO_FIT) {
      row[column] = fitted;
      return;
    }
    const variant = this.#column(table, path, type, `v_${VARIANT_SUFFIX[type]}`);
    row[variant] = type === "jsonb" ? value : fit(type, value);
  }

  /**
   * The column for a source path, created with `type` when new (`null`: look up only).
   * A `variant` names the column that holds values of another type (`due__v_text`).
   */
  #column(table: TableSchema, path: string, type: DataType | null, variant?: string): string {
    const key = variant === undefined ? path : `${path}${SEP}${SEP}${variant}`;
    const existing = table.sources[key];
    if (existing !== undefined) return existing;
    const segments = path.split(SEP);
    const base = variant === undefined
      ? joinPath(segments)
      : fitIdentifier(`${joinPath(segments)}${PATH_SEPARATOR}${variant}`);
    const name = uniqueName(base, (n) => n in table.columns);
    if (type === null) return name;
    table.sources[key] = name;
    table.columns[name] = { type };
    return name;
  }

  #childTable(parentName: string, parent: TableSchema, key: string): string {
    const existing = parent.children[key];
    if (existing !== undefined) return existing;
    const name = uniqueName(
      fitIdentifier(`${parentName}${PATH_SEPARATOR}${joinPath(key.split(SEP))}`),
      (n) => n in this.schema.tables,
    );
    parent.children[key] = name;
    this.schema.tables[name] = {
      resource: parent.resource,
      parent: parentName,
      columns: {
        [S.id]: { type: "text" },
        [S.parentId]: { type: "text" },
        [S.listIndex]: { type: "bigint" },
        [S.rootId]: { type: "text" },
      },
      sources: {},
      children: {},
    };
    return name;
  }
}
