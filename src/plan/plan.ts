/**
 * The run plan: each resource merged with the source and defaults, in dependency order.
 *
 * @module
 */
import { RestpipeError } from "../core/errors.ts";
import {
  type ColumnType,
  durationMs,
  type Incremental,
  type Paginator,
  type Spec,
  type StatusRules,
  type WriteDisposition,
} from "../spec/schema.ts";
import { didYouMean } from "../spec/suggest.ts";
import { ancestors, parentList } from "../spec/graph.ts";
import { parsePredicate, type Predicate } from "../spec/predicate.ts";

/** A query parameter's value: one value, or a list sent as the key repeated. */
export type ParamValue = string | number | boolean | (string | number | boolean)[];

/** A map without its `null` entries (a `null` removes what an outer level set). */
function withoutNulls<T>(map: Record<string, T | null>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(map).filter((e): e is [string, T] => e[1] !== null),
  );
}

/** Column type hints of a resource, by column name. */
export type ColumnHints = Record<string, ColumnHint>;

/** A column's declared type, and how numbers become instants (`epoch_s`, `epoch_ms`). */
export interface ColumnHint {
  /** The column type. */
  type: ColumnType;
  /** Numbers that are instants: seconds or milliseconds since the epoch. */
  format?: "epoch_s" | "epoch_ms";
}

/** A resource with every setting resolved: what the extractor and loader need. */
export interface PlannedResource {
  /** The resource name (the key under `resources:`). */
  name: string;
  /** The root table this resource fills. */
  table: string;
  /** The request path, with placeholders. */
  path: string;
  /** Parents that the plan runs; the resource itself among them when it is recursive. */
  parents: string[];
  /** One request chain per element: static values, or a placeholder naming a list. */
  forEach: ForEach | undefined;
  /** `for_each` per parent name, when the spec gives one per parent (else empty). */
  forEachByParent: Map<string, ForEach>;
  /** Ancestors, nearest first. */
  ancestors: string[];
  /** Children that the plan runs, in spec order. */
  children: string[];
  /** Query parameters (inherited ones removed by `null` are gone). */
  params: Record<string, ParamValue>;
  /** The query parameters of the chains under each parent named in `parent_params`. */
  paramsByParent: Map<string, Record<string, ParamValue>>;
  /** `keep:` per parent name (`""` for a root resource): records for which it is false go. */
  keep: Map<string, Predicate>;
  /** Headers (inherited ones removed by `null` are gone). */
  headers: Record<string, string>;
  /** The fields to ask for (sent in the source's `fields_param`), if any. */
  fields: string[] | undefined;
  /** Parent fields copied into each record: column name → dotted parent path. */
  includeFromParent: Record<string, string>;
  /** How its rows are written. */
  writeDisposition: WriteDisposition;
  /** The primary key fields (empty: none). */
  primaryKey: string[];
  /** How deep nested objects flatten before they are stored as jsonb. */
  maxNesting: number;
  /** Column type hints. */
  columns: ColumnHints;
  /** Where the records sit in a response (`""`: the body). */
  records: string;
  /** How to ask for the next page. */
  paginator: Paginator;
  /** Pages each listing may take (unbounded when undefined); a capped listing is incomplete. */
  maxPages: number | undefined;
  /** Status rules: the source's, overridden by the resource's. */
  onStatus: StatusRules;
  /** Cursor settings, when the resource loads incrementally. */
  incremental: Incremental | undefined;
  /** List keys each run and delete what the API no longer has. */
  reconcile: boolean;
  /** Fields of the key-only listing (the primary key when undefined). */
  reconcileFields: string[] | undefined;
  /**
   * Fields the key-only listing also reads: a record whose values differ from its
   * stored row is listed again whole (`reconcile.watch`).
   */
  reconcileWatch: string[];
  /**
   * How a run after the first lists the keys of a reconciled resource: a key-only
   * listing beside the incremental one (`keys`), or one listing of whole records that
   * serves as both (`records`, see `reconcile.listing`).
   */
  reconcileListing: "keys" | "records";
  /**
   * The path that asks for one stored record by its key before it is deleted
   * (`reconcile.verify`, `{record.<field>}` placeholders), if any.
   */
  reconcileVerify: string | undefined;
  /**
   * The children whose every change moves the parent record's cursor
   * (`reconcile.moves_cursor`): under a partition whose changes below are unknown, they
   * are listed only for records that changed; undefined: records are listed whole.
   */
  reconcileMovesCursor: ReadonlySet<string> | undefined;
  /**
   * True when an ancestor loads incrementally: this resource is fetched only for the
   * parents returned in a run, and its rows are replaced within each of them.
   */
  partial: boolean;
  /** False for ancestors fetched only to fan out over (not in `--resources`). */
  load: boolean;
  /** `when:` per parent name: a parent record for which it is false needs no request. */
  when: Map<string, Predicate>;
  /** `refresh_every` per parent name (`""` for a root resource), in milliseconds. */
  refreshEvery: Map<string, number>;
  /** `refresh_on` per parent name: fields of the parent record whose change makes it due. */
  refreshOn: Map<string, string[]>;
  /** The change feed of each partition, when the resource declares one. */
  changes: PlannedChanges | undefined;
}

/** A resource's `for_each`: static values, or a placeholder naming a list in an ancestor. */
export type ForEach = { values: (string | number | boolean)[] } | { from: string };

/** The `for_each` of a resource's chains under one parent resource (`""`: none). */
export function forEachOf(resource: PlannedResource, parent: string): ForEach | undefined {
  return resource.forEachByParent.get(parent) ?? resource.forEach;
}

/** Does this resource's change feed cover its partitions under this parent resource? */
export function hasFeed(resource: PlannedResource, parent: string): boolean {
  return resource.changes !== undefined &&
    (resource.changes.parents === undefined || resource.changes.parents.includes(parent));
}

/** A resource's change feed, as a run reads it. */
export interface PlannedChanges {
  /** The feed's path template. */
  path: string;
  /** The parents whose partitions have the feed (undefined: every parent). */
  parents: string[] | undefined;
  /** Its query parameters (templates). */
  params: Record<string, ParamValue>;
  /** The parameter that carries the token. */
  tokenParam: string;
  /** Where the next token is in an answer. */
  tokenPath: string;
  /** Where the events are in an answer. */
  records: string | undefined;
  /** Where an answer says that more events wait. */
  hasMorePath: string | undefined;
  /** The status of an answer that refuses a token. */
  expiredStatus: number;
  /** Paths of an event whose values are record keys. */
  keys: string[];
  /** Each partition is listed again whole once this old (ms); undefined: never. */
  relistEveryMs: number | undefined;
}

/** The resources of one run, parents before children. */
export interface Plan {
  /** Every resource of the plan, by name. */
  resources: Map<string, PlannedResource>;
  /** Names in dependency order. */
  order: string[];
}

/** An unknown `--resources` name. */
export class PlanError extends RestpipeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

/**
 * Default and greatest nesting depth: as deep as real data goes. A deeper value is
 * stored as `jsonb` (a hostile record nested a million levels deep makes no tables).
 */
export const UNLIMITED_NESTING = 64;

/**
 * Builds the plan. `only` restricts the run to those resources (their ancestors are
 * fetched for fan-out but not loaded); otherwise every enabled resource runs, and a
 * disabled resource's descendants are left out with it.
 */
export function buildPlan(spec: Spec, only?: string[]): Plan {
  const specs = spec.resources;
  const parentsOf = (n: string) => parentList(specs[n]?.parent);
  let selected: Set<string>;
  if (only && only.length > 0) {
    for (const n of only) {
      if (!(n in specs)) {
        throw new PlanError(
          `--resources: unknown resource "${n}"${didYouMean(n, Object.keys(specs))}; ` +
            `the spec has ${Object.keys(specs).join(", ")}`,
        );
      }
    }
    selected = new Set(only);
  } else {
    selected = new Set(
      Object.keys(specs).filter((n) =>
        specs[n].enabled && ancestors(n, parentsOf).every((a) => specs[a].enabled)
      ),
    );
  }
  const running = new Set<string>();
  for (const n of selected) {
    running.add(n);
    for (const a of ancestors(n, parentsOf)) running.add(a);
  }
  const order: string[] = [];
  const visit = (n: string) => {
    if (order.includes(n)) return;
    for (const p of parentsOf(n)) if (p !== n) visit(p);
    order.push(n);
  };
  for (const n of Object.keys(specs)) if (running.has(n)) visit(n);

  const resources = new Map<string, PlannedResource>();
  for (const name of order) {
    resources.set(name, planResource(spec, name, selected.has(name)));
  }
  for (const r of resources.values()) {
    r.parents = r.parents.filter((p) => resources.has(p));
    for (const p of r.parents) resources.get(p)!.children.push(r.name);
  }
  return { resources, order };
}

function planResource(spec: Spec, name: string, load: boolean): PlannedResource {
  const r = spec.resources[name];
  const d = spec.defaults;
  const pk = r.primary_key ?? d.primary_key;
  const parents = parentList(r.parent);
  const prefix = parents.length === 1 ? parents[0] : "parent";
  const include = r.include_from_parent ?? [];
  const includeFromParent: Record<string, string> = Array.isArray(include)
    ? Object.fromEntries(include.map((f) => [`_${prefix}_${f.replaceAll(".", "_")}`, f]))
    : include;
  const ancestry = ancestors(name, (n) => parentList(spec.resources[n]?.parent));
  const each = r.for_each;
  const forEachOfSpec = (each: string | (string | number | boolean)[]): ForEach =>
    typeof each === "string" && each.trim().startsWith("{") ? { from: each.trim() } : {
      values: typeof each === "string"
        ? each.split(",").map((x) => x.trim()).filter(Boolean)
        : each,
    };
  const perParent = each !== undefined && typeof each === "object" && !Array.isArray(each);
  const base = { ...spec.source.params, ...d.params, ...r.params };
  const columns: ColumnHints = {};
  for (const [col, hint] of Object.entries(r.columns ?? {})) {
    columns[col] = typeof hint === "string" ? { type: hint } : hint;
  }
  return {
    name,
    table: r.table ?? name,
    path: r.path,
    parents,
    forEach: each === undefined || perParent ? undefined : forEachOfSpec(each),
    forEachByParent: new Map(
      perParent ? Object.entries(each).map(([p, e]) => [p, forEachOfSpec(e)]) : [],
    ),
    ancestors: ancestry,
    children: [],
    params: withoutNulls(base),
    paramsByParent: new Map(
      Object.entries(r.parent_params ?? {}).map(([p, params]) => [
        p,
        withoutNulls({ ...base, ...params }),
      ]),
    ),
    keep: new Map(
      typeof r.keep === "string"
        ? (parents.length > 0 ? parents : [""]).map((p) => [p, parsePredicate(r.keep as string)])
        : Object.entries(r.keep ?? {}).map(([p, text]) => [p, parsePredicate(text)]),
    ),
    headers: withoutNulls({ ...spec.source.headers, ...d.headers, ...r.headers }),
    fields: r.fields,
    includeFromParent,
    writeDisposition: r.write_disposition ?? d.write_disposition ?? "append",
    primaryKey: pk === undefined ? [] : typeof pk === "string" ? [pk] : pk,
    maxNesting: Math.min(r.max_nesting ?? d.max_nesting ?? UNLIMITED_NESTING, UNLIMITED_NESTING),
    columns,
    records: r.records ?? spec.source.records,
    paginator: r.paginator ?? spec.source.paginator,
    maxPages: r.max_pages ?? d.max_pages,
    onStatus: { ...spec.source.on_status, ...r.on_status },
    incremental: r.incremental,
    reconcile: r.reconcile !== false,
    reconcileFields: typeof r.reconcile === "object" ? r.reconcile.fields : undefined,
    reconcileWatch: typeof r.reconcile === "object" ? r.reconcile.watch ?? [] : [],
    reconcileListing: typeof r.reconcile === "object" ? r.reconcile.listing ?? "keys" : "keys",
    reconcileVerify: typeof r.reconcile === "object" ? r.reconcile.verify : undefined,
    reconcileMovesCursor: typeof r.reconcile === "object" && r.reconcile.moves_cursor
      ? new Set(r.reconcile.moves_cursor)
      : undefined,
    partial: ancestry.some((a) => spec.resources[a].incremental !== undefined),
    load,
    when: new Map(
      typeof r.when === "string"
        ? parents.map((p) => [p, parsePredicate(r.when as string)])
        : Object.entries(r.when ?? {}).map(([p, text]) => [p, parsePredicate(text)]),
    ),
    changes: r.changes && {
      path: r.changes.path,
      parents: r.changes.parent === undefined ? undefined : parentList(r.changes.parent),
      params: withoutNulls(r.changes.params),
      tokenParam: r.changes.token_param,
      tokenPath: r.changes.token_path,
      records: r.changes.records ?? spec.source.records,
      hasMorePath: r.changes.has_more_path,
      expiredStatus: r.changes.expired_status,
      keys: r.changes.keys,
      relistEveryMs: r.changes.relist_every ? durationMs(r.changes.relist_every) : undefined,
    },
    refreshOn: new Map(
      Array.isArray(r.refresh_on)
        ? parents.map((p) => [p, r.refresh_on as string[]])
        : Object.entries(r.refresh_on ?? {}),
    ),
    refreshEvery: new Map(
      typeof r.refresh_every === "string"
        ? (parents.length > 0 ? parents : [""]).map((
          p,
        ) => [p, durationMs(r.refresh_every as string)])
        : Object.entries(r.refresh_every ?? {}).map(([p, d]) => [p, durationMs(d)]),
    ),
  };
}
