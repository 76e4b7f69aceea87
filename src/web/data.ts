/**
 * What the dashboard shows, read from a destination: the resource graph with the last
 * load's figures, the table tree, the load history, a table's columns and a page of its
 * rows, and the result of a read-only query (as JSON or CSV).
 *
 * @module
 */
import type { Destination, LoadRecord, ResourceFigures } from "../load/destination.ts";
import { quoteIdent as q } from "../normalize/naming.ts";
import type { Plan } from "../plan/plan.ts";
import { columnsOf, type DatasetSummary, depthOf, describeDataset } from "../show.ts";

/** One resource in the graph, with what it did in the last completed load. */
export interface GraphNode {
  /** The resource. */
  resource: string;
  /** The root table it fills (null: not loaded). */
  table: string | null;
  /** Parents other than itself (several: a union of parents). */
  parents: string[];
  /** The resource lists itself as a parent (a tree of records, walked to its leaves). */
  recursive: boolean;
  /** False when it is fetched only for its children. */
  loaded: boolean;
  /**
   * Figures of the last completed load, or null when it did not run then: rows written
   * to its table (records received, when it is not loaded), records received, requests
   * and seconds (null for loads that did not record them).
   */
  last: { rows: number; received: number; requests: number; seconds: number | null } | null;
}

/** A dataset as the dashboard draws it. */
export interface DatasetView extends DatasetSummary {
  /** Each table's depth in the tree, by name (0 for a root table). */
  depth: Record<string, number>;
  /** The resource graph, with the last load's figures. */
  graph: GraphNode[];
  /** Where the graph comes from: the spec given, or the last load's record. */
  graphSource: "spec" | "load" | "none";
}

/** Everything the dashboard's first render needs. */
export interface Overview {
  /** Where the data is (never holding a password). */
  destination: string;
  /** Every dataset of the destination. */
  datasets: DatasetView[];
  /** The worker fleet's recent runs, newest first, when the server holds its queue. */
  fleet: FleetRun[] | null;
}

/** One run of the worker fleet's queue (`restpipe worker`), as the dashboard lists it. */
export interface FleetRun {
  /** The pipeline of the fleet file. */
  pipeline: string;
  /** pg-boss's state (created, active, retry, completed, failed), or `dead letter`. */
  state: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** When it was queued (ISO 8601). */
  created: string;
  /** When it started, once it did. */
  started: string | null;
  /** When it ended, once it did. */
  completed: string | null;
  /** The run's exit code, once it ended. */
  exitCode: number | null;
  /** The run's error (secrets removed by the run), when it failed. */
  error: string | null;
}

/** The fleet's 50 most recent runs and dead letters, or null without a fleet queue. */
export async function readFleetRuns(dest: Destination): Promise<FleetRun[] | null> {
  // (pg-boss's job table is partitioned: to_regclass finds it, whatever its kind)
  const has = await dest.query<{ found: boolean }>(
    `select to_regclass('restpipe_jobs.job') is not null as found`,
  );
  if (has.rows[0]?.found !== true) return null;
  const r = await dest.query<{
    name: string;
    state: string;
    pipeline: string | null;
    retry_count: number;
    created_on: Date | string;
    started_on: Date | string | null;
    completed_on: Date | string | null;
    output: { exit_code?: number; error?: string } | null;
  }>(
    `select name, state::text as state, data->>'pipeline' as pipeline, retry_count, created_on,
       started_on, completed_on, output
     from restpipe_jobs.job where name in ('restpipe-runs', 'restpipe-runs-dead')
     order by created_on desc limit 50`,
  );
  const iso = (d: Date | string | null) => d === null ? null : new Date(d).toISOString();
  return r.rows.map((j) => ({
    pipeline: j.pipeline ?? "?",
    state: j.name === "restpipe-runs-dead" ? "dead letter" : j.state,
    attempt: j.retry_count + 1,
    created: iso(j.created_on)!,
    started: iso(j.started_on),
    completed: iso(j.completed_on),
    exitCode: typeof j.output?.exit_code === "number" ? j.output.exit_code : null,
    error: typeof j.output?.error === "string" ? j.output.error : null,
  }));
}

/** The graph from a plan (the spec given on the command line). */
function graphOfPlan(plan: Plan, last: LoadRecord | undefined): GraphNode[] {
  return plan.order.map((name) => {
    const r = plan.resources.get(name)!;
    return node(name, r.table, r.parents, r.load, last);
  });
}

/** The graph from a load's per-resource record (no spec needed). */
function graphOfLoad(last: LoadRecord): GraphNode[] {
  return Object.entries(last.resources ?? {}).map(([name, f]) =>
    node(name, f.table ?? null, f.parents ?? [], f.loaded ?? true, last)
  );
}

function node(
  resource: string,
  table: string | null,
  parents: string[],
  loaded: boolean,
  load: LoadRecord | undefined,
): GraphNode {
  const f: ResourceFigures | undefined = load?.resources?.[resource];
  const written = table !== null && loaded ? load?.rows[table] : undefined;
  return {
    resource,
    table,
    parents: parents.filter((p) => p !== resource),
    recursive: parents.includes(resource),
    loaded,
    last: f
      ? {
        rows: written ?? f.rows,
        received: f.rows,
        requests: f.requests,
        seconds: f.seconds ?? null,
      }
      : null,
  };
}

/** Reads the overview of the given datasets (every dataset when none is named). */
export async function readOverview(
  dest: Destination,
  options: { dataset?: string; plan?: Plan } = {},
): Promise<Overview> {
  const names = options.dataset !== undefined ? [options.dataset] : await dest.datasets();
  const datasets: DatasetView[] = [];
  for (const name of names) {
    const summary = await describeDataset(dest, name);
    const last: LoadRecord | undefined = (await dest.loads(name, 50)).find((l) =>
      l.status === "completed" && l.resources !== null && Object.keys(l.resources).length > 0
    );
    const graph = options.plan ? graphOfPlan(options.plan, last) : last ? graphOfLoad(last) : [];
    datasets.push({
      ...summary,
      depth: Object.fromEntries(summary.tables.map((t) => [t.name, depthOf(t, summary.tables)])),
      graph,
      graphSource: options.plan ? "spec" : last ? "load" : "none",
    });
  }
  return { destination: dest.description, datasets, fleet: await readFleetRuns(dest) };
}

/** A table's columns and one page of its rows. */
export interface TablePage {
  /** The dataset. */
  dataset: string;
  /** The table. */
  table: string;
  /** Rows in the table. */
  rows: number;
  /** Rows the filter matches (equal to `rows` without a filter). */
  matching: number;
  /**
   * Its columns: name, type, and whether it is a variant column (values a hint could not convert).
   */
  columns: { name: string; type: string; variant: boolean }[];
  /** The first row of the page (0-based). */
  offset: number;
  /** Rows per page. */
  limit: number;
  /** The page's rows, values in column order, as JSON-safe values. */
  page: unknown[][];
}

/** A column that holds values a column hint or an earlier type could not take. */
export function isVariantColumn(name: string): boolean {
  return /__v_[a-z0-9_]+$/.test(name);
}

/**
 * One page of a table, rows in `_dlt_id` order, optionally only those whose text (the
 * whole row as Postgres prints it) contains `filter`, ignoring case. Undefined when the
 * dataset has no such table.
 */
export async function readTablePage(
  dest: Destination,
  dataset: string,
  table: string,
  options: { offset?: number; limit?: number; filter?: string } = {},
): Promise<TablePage | undefined> {
  const cols = await columnsOf(dest, dataset, table);
  if (cols.length === 0) return undefined;
  const offset = Math.max(0, Math.floor(options.offset ?? 0));
  const limit = Math.min(500, Math.max(1, Math.floor(options.limit ?? 50)));
  const target = `${q(dataset)}.${q(table)} as r`;
  const filter = options.filter?.trim() ?? "";
  const where = filter === "" ? "" : `where r::text ilike $1 escape '\\'`;
  const params = filter === "" ? [] : [`%${filter.replace(/[\\%_]/g, (c) => `\\${c}`)}%`];
  const names = cols.map((c) => c.name);
  const order = names.includes("_dlt_id") ? `order by r."_dlt_id"` : "";
  const total = await dest.query<{ n: number }>(`select count(*)::int as n from ${target}`);
  const matching = filter === ""
    ? total
    : await dest.query<{ n: number }>(`select count(*)::int as n from ${target} ${where}`, params);
  const rows = await dest.query<Record<string, unknown>>(
    `select r.* from ${target} ${where} ${order} limit ${limit} offset ${offset}`,
    params,
  );
  return {
    dataset,
    table,
    rows: total.rows[0].n,
    matching: matching.rows[0].n,
    columns: cols.map((c) => ({ ...c, variant: isVariantColumn(c.name) })),
    offset,
    limit,
    page: rows.rows.map((row) => names.map((n) => jsonValue(row[n]))),
  };
}

/** A value as JSON can carry it: big integers and numerics as text, instants as ISO text. */
export function jsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) {
    return "\\x" + [...value].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonValue(v)]));
  }
  return value;
}

/** The result of a dashboard query. */
export interface QueryView {
  fields: string[];
  /** The first rows (at most the `maxRows` asked for), values in field order. */
  rows: unknown[][];
  /** True when the statement returned more rows than those (the CSV has them all). */
  more: boolean;
}

/**
 * Runs one read-only statement (rolled back, whatever it is) and returns its first
 * `maxRows` rows; the rest are never read, so a huge result costs no memory.
 */
export async function runReadOnly(
  dest: Destination,
  sql: string,
  maxRows = 1000,
): Promise<QueryView> {
  const view: QueryView = { fields: [], rows: [], more: false };
  await dest.readPages<Record<string, unknown>>(sql, maxRows + 1, (rows, fields) => {
    view.fields = fields.map((f) => f.name);
    view.more = rows.length > maxRows;
    view.rows = rows.slice(0, maxRows).map((row) => view.fields.map((f) => jsonValue(row[f])));
    return Promise.resolve(false);
  });
  return view;
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
function csvField(value: unknown): string {
  const v = jsonValue(value);
  const text = v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows read per page of a CSV download. */
const CSV_PAGE_ROWS = 5000;

/**
 * A query's whole result as CSV (header line, then one line per row, CRLF), streamed:
 * pages are read from a cursor as the client takes them, and a cancelled download stops
 * the query. Resolves once the first page is read, so a bad query throws here.
 */
export async function queryCsv(
  dest: Destination,
  sql: string,
): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  // no buffer on the way out: a page is read when the client has taken the one before
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(
    undefined,
    { highWaterMark: 1 },
    { highWaterMark: 0 },
  );
  const writer = writable.getWriter();
  let started: () => void = () => {};
  const firstPage = new Promise<void>((resolve) => started = resolve);
  let header = false;
  const reading = dest.readPages<Record<string, unknown>>(
    sql,
    CSV_PAGE_ROWS,
    async (rows, fields) => {
      const names = fields.map((f) => f.name);
      let text = header ? "" : names.map(csvField).join(",") + "\r\n";
      header = true;
      for (const row of rows) text += names.map((f) => csvField(row[f])).join(",") + "\r\n";
      const written = writer.write(encoder.encode(text));
      started();
      try {
        await written;
        return true;
      } catch {
        return false; // the client went away
      }
    },
  );
  reading.then(
    () => writer.close().catch(() => {}),
    (e) => writer.abort(e).catch(() => {}),
  );
  await Promise.race([firstPage, reading]);
  return readable;
}
