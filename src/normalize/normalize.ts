/**
 * Records → rows: nested objects flatten into `a__b` columns, lists become child
 * tables `parent__field`, types are inferred and the table schemas evolve.
 *
 * @module
 */
import type { ColumnHint, PlannedResource } from "../plan/plan.ts";
import { fitIdentifier, joinPath, PATH_SEPARATOR, snakeCase, uniqueName } from "./naming.ts";
import { type StoredSchema, SYSTEM_COLUMNS as S, type TableSchema } from "./schema.ts";
import {
  convert,
  type DataType,
  fit,
  inferType,
  keyType,
  NO_FIT,
  VARIANT_SUFFIX,
  widerKeyType,
} from "./types.ts";
import { canonicalValue, hash53 } from "../core/keys.ts";
import { stringifyJson } from "../core/json.ts";

/** A row: column name → value. */
export type Row = Record<string, unknown>;

/** Rows of one batch, by table name. */
export type TableRows = Map<string, Row[]>;

/** Source-path segment separator inside stored schemas. */
const SEP = "\u0001";

/**
 * Columns a table may reach; fields past it are kept in the table's
 * {@linkcode OVERFLOW_COLUMN} (jsonb). Postgres allows 1,600 columns, but a row must
 * also fit in 8 kB (a wide value takes 18 bytes even when moved out of line).
 */
export const MAX_TABLE_COLUMNS = 400;

/**
 * A jsonb value nested deeper than this is stored as its JSON text (a jsonb string):
 * Postgres' parser recurses, and a value thousands of levels deep would fail the load.
 */
export const MAX_JSON_DEPTH = 1000;

/** How deep a value nests (iteratively: a hostile value may be a million levels deep). */
export function depthOf(value: unknown, limit = Infinity): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > limit) return max;
    for (const x of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof x === "object" && x !== null) stack.push([x, d + 1]);
    }
  }
  return max;
}

/** The jsonb column holding the fields of a record that its table has no room for. */
export const OVERFLOW_COLUMN = "_dlt_overflow";

/** How a `__proto__` field is named inside stored schemas (its column is `_proto`). */
const PROTO_SEGMENT = "\u0002__proto__";

/** Strings up to this length are shared between rows. */
const MAX_SHARED_LENGTH = 40;
/** How many shared strings the normaliser keeps. */
const MAX_SHARED_STRINGS = 50_000;

/** Source paths remembered under one prefix (the rest are joined each time). */
const MAX_CACHED_PATHS = 4096;

/** Does a key path run below this object's path (`a` for key `a.b`)? */
function nestedKey(keyPaths: ReadonlySet<string>, path: string): boolean {
  for (const k of keyPaths) if (k.startsWith(path + SEP)) return true;
  return false;
}

function has(obj: object, key: string): boolean {
  return Object.hasOwn(obj, key);
}

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
  /** `columns:` hints of each root table, by source path. */
  readonly #hints = new Map<string, Map<string, ColumnHint>>();
  /** Short strings shared by the rows (see {@linkcode Normalizer.#shared}). */
  readonly #strings = new Map<string, string>();
  /** Source paths by prefix, then key: a field's path is joined once, not once per row. */
  readonly #paths = new Map<string, Map<string, string>>();
  /** Values a `columns:` hint could not convert (stored in a variant column instead). */
  unconverted = 0;

  /** Starts from the stored schema (or an empty one) for a load. */
  constructor(schema: StoredSchema, loadId: string) {
    this.schema = schema;
    this.#loadId = loadId;
    this.#idPrefix = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
  }

  /** The prefix of every row id this normaliser makes (unique to the load). */
  get idPrefix(): string {
    return this.#idPrefix;
  }

  /** The root table of a resource, created on first use. */
  rootTable(resource: PlannedResource): string {
    for (const [name, t] of Object.entries(this.schema.tables)) {
      if (!has(this.schema.tables, name)) continue;
      if (t.resource === resource.name && t.parent === null) {
        if (resource.parents.length > 0) t.columns[S.parentKey] ??= { type: "text" };
        return name;
      }
    }
    const name = uniqueName(
      fitIdentifier(snakeCase(resource.table)),
      (n) => has(this.schema.tables, n),
    );
    const table: TableSchema = {
      resource: resource.name,
      parent: null,
      columns: {},
      sources: {},
      children: {},
    };
    this.schema.tables[name] = table;
    const hints = new Map<string, ColumnHint>();
    for (const [col, hint] of Object.entries(resource.columns)) {
      const column = joinPath(col.split(PATH_SEPARATOR));
      table.columns[column] = { type: hint.type as DataType };
      const path = col.split(PATH_SEPARATOR).join(SEP);
      table.sources[path] = column;
      hints.set(path, hint);
    }
    // only tables with hints are looked up per value (the hot path stays a miss)
    if (hints.size > 0) this.#hints.set(name, hints);
    table.columns[S.id] = { type: "text" };
    table.columns[S.loadId] = { type: "text" };
    if (resource.parents.length > 0) table.columns[S.parentKey] = { type: "text" };
    if (resource.writeDisposition === "scd2") {
      table.columns[S.validFrom] = { type: "timestamptz" };
      table.columns[S.validTo] = { type: "timestamptz" };
      table.columns[S.hash] = { type: "text" };
    }
    return name;
  }

  /** The column names of a resource's primary key in its root table. */
  keyColumns(resource: PlannedResource): string[] {
    const table = this.schema.tables[this.rootTable(resource)];
    return resource.primaryKey.map((k) => this.#column(table, k.split(".").join(SEP), null));
  }

  /**
   * The root-table column that holds a field (`a.b` for a nested one) when earlier loads
   * stored it as one scalar column; undefined otherwise (never created here).
   */
  storedColumn(resource: PlannedResource, field: string): string | undefined {
    const table = this.schema.tables[this.rootTable(resource)];
    const column = table.sources[field.split(".").join(SEP)];
    if (typeof column !== "string") return undefined;
    const type = table.columns[column]?.type;
    return type === undefined || type === "jsonb" ? undefined : column;
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
    const keyPaths = resource.primaryKey.length > 0
      ? new Set(resource.primaryKey.map((k) => k.split(".").join(SEP)))
      : undefined;
    const rowsOf = (t: string) => {
      let list = out.get(t);
      if (!list) out.set(t, list = []);
      return list;
    };
    const rootRows = rowsOf(tableName);
    for (const record of records) {
      const id = this.#id();
      const row: Row = { [S.id]: id, [S.loadId]: this.#loadId };
      if (resource.parents.length > 0) row[S.parentKey] = parentKey;
      rootRows.push(row);
      const obj = isPlainObject(record) ? record : { value: record };
      if (resource.writeDisposition === "scd2") row[S.hash] = contentHash(obj);
      this.#flatten(obj, tableName, table, row, "", 0, resource.maxNesting, id, rowsOf, keyPaths);
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
    keyPaths?: ReadonlySet<string>,
  ): void {
    let paths = this.#paths.get(prefix);
    if (paths === undefined) this.#paths.set(prefix, paths = new Map());
    const hints = this.#hints.get(tableName);
    // own keys only: JSON objects have no enumerable inherited ones ("__proto__" is own)
    for (const key in obj) {
      const value = obj[key];
      if (value === null || value === undefined) continue;
      // the source path, segments joined by SEP (arrays only when a column is created);
      // "__proto__" cannot be a key of the schema's plain objects, so it is escaped
      let path = paths.get(key);
      if (path === undefined) {
        const segment = key === "__proto__" ? PROTO_SEGMENT : key;
        path = prefix === "" ? segment : prefix + SEP + segment;
        // records keyed by ids would grow it without end: remember the first few thousand
        if (paths.size < MAX_CACHED_PATHS) paths.set(key, path);
      }
      if (Array.isArray(value) || isPlainObject(value)) {
        const asJson = depth + 1 > maxNesting || this.#isJsonColumn(table, path);
        if (asJson) {
          const deep = depthOf(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH;
          this.#assign(table, row, path, deep ? stringifyJson(value) : value, "jsonb");
        } else if (isPlainObject(value)) {
          this.#flatten(
            value,
            tableName,
            table,
            row,
            path,
            depth + 1,
            maxNesting,
            rootId,
            rowsOf,
            keyPaths !== undefined && nestedKey(keyPaths, path) ? keyPaths : undefined,
          );
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
      } else if (keyPaths?.has(path)) {
        this.#assignKey(table, row, path, value);
      } else {
        const hint = hints?.get(path);
        const converted = hint ? convert(hint.type, value, hint.format) : NO_FIT;
        if (hint && converted === NO_FIT) this.unconverted++;
        if (converted !== NO_FIT) this.#assign(table, row, path, converted, hint!.type);
        else this.#assign(table, row, path, value, inferType(value));
      }
    }
  }

  /**
   * Stores a primary-key value in a text, bigint or numeric column whose SQL text form
   * is the key's canonical text (`1` and `"1"` alike); the column widens as needed.
   */
  #assignKey(table: TableSchema, row: Row, path: string, value: unknown): void {
    const column = this.#column(table, path, keyType(value));
    if (column === OVERFLOW_COLUMN) return this.#overflow(row, path, value);
    const have = table.columns[column].type;
    const want = widerKeyType(have, keyType(value));
    if (want !== have) table.columns[column].type = want;
    row[column] = want === "text" ? canonicalValue(value) : value;
  }

  #isJsonColumn(table: TableSchema, path: string): boolean {
    const col = table.sources[path];
    if (typeof col !== "string") return false;
    return col !== undefined && table.columns[col]?.type === "jsonb";
  }

  /** Stores a value in its column, or in a variant column when the types conflict. */
  #assign(table: TableSchema, row: Row, path: string, value: unknown, type: DataType): void {
    const column = this.#column(table, path, type);
    if (column === OVERFLOW_COLUMN) return this.#overflow(row, path, value);
    const have = table.columns[column].type;
    if (have === type) { // inferType already checked the value: the common, fast case
      row[column] = typeof value === "string" && value.length <= MAX_SHARED_LENGTH
        ? this.#shared(value)
        : value;
      return;
    }
    // numbers widen: a bigint column that meets a fraction becomes double precision,
    // one that meets an integer past 64 bits becomes numeric
    if (type === "double precision" && have === "bigint") {
      table.columns[column].type = "double precision";
    } else if (type === "numeric" && have === "bigint") {
      table.columns[column].type = "numeric";
    }
    const fitted = fit(table.columns[column].type, value);
    if (fitted !== NO_FIT) {
      row[column] = fitted;
      return;
    }
    const variant = this.#column(table, path, type, `v_${VARIANT_SUFFIX[type]}`);
    if (variant === OVERFLOW_COLUMN) return this.#overflow(row, path, value);
    row[variant] = type === "jsonb" ? value : fit(type, value);
  }

  /**
   * One copy of a short string that many rows hold (a resource type, the id of a parent
   * record or a user): JSON gives each record its own. The table is emptied when it is full.
   */
  #shared(value: string): string {
    const known = this.#strings.get(value);
    if (known !== undefined) return known;
    if (this.#strings.size >= MAX_SHARED_STRINGS) this.#strings.clear();
    this.#strings.set(value, value);
    return value;
  }

  /** Keeps a field the table has no room for in its overflow column, by source path. */
  #overflow(row: Row, path: string, value: unknown): void {
    let bag = row[OVERFLOW_COLUMN] as Record<string, unknown> | undefined;
    if (bag === undefined) row[OVERFLOW_COLUMN] = bag = {};
    Object.defineProperty(bag, path.split(SEP).join(".").replaceAll(PROTO_SEGMENT, "__proto__"), {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }

  /**
   * The column for a source path, created with `type` when new (`null`: look up only).
   * A `variant` names the column that holds values of another type (`due__v_text`).
   */
  #column(table: TableSchema, path: string, type: DataType | null, variant?: string): string {
    const key = variant === undefined ? path : `${path}${SEP}${SEP}${variant}`;
    // a string is an own entry: Object.prototype's members ("constructor"…) are not strings
    const existing = table.sources[key];
    if (typeof existing === "string") return existing;
    // a full table keeps new fields in its overflow column
    if (type !== null && Object.keys(table.columns).length >= MAX_TABLE_COLUMNS) {
      if (!has(table.columns, OVERFLOW_COLUMN)) table.columns[OVERFLOW_COLUMN] = { type: "jsonb" };
      return OVERFLOW_COLUMN;
    }
    const segments = path.split(SEP);
    const base = variant === undefined
      ? joinPath(segments)
      : fitIdentifier(`${joinPath(segments)}${PATH_SEPARATOR}${variant}`);
    const name = uniqueName(base, (n) => has(table.columns, n));
    if (type === null) return name;
    table.sources[key] = name;
    table.columns[name] = { type };
    return name;
  }

  #childTable(parentName: string, parent: TableSchema, key: string): string {
    const existing = parent.children[key];
    if (typeof existing === "string") return existing;
    const name = uniqueName(
      fitIdentifier(`${parentName}${PATH_SEPARATOR}${joinPath(key.split(SEP))}`),
      (n) => has(this.schema.tables, n),
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

/** JSON with object keys sorted: the same record, whatever order the API sent its keys in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value)) {
    return `{${
      Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
        .join(",")
    }}`;
  }
  return stringifyJson(value);
}

/** A 106-bit hash of a record's content (two 53-bit cyrb53 hashes), as hex. */
export function contentHash(record: unknown): string {
  const text = canonicalJson(record);
  const hex = (seed: number) => hash53(text, seed).toString(16).padStart(14, "0");
  return hex(1) + hex(2);
}
