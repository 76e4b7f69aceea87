/**
 * The SQL every Postgres destination runs: system tables, table evolution, and the
 * commit that applies each disposition from the run's evidence. PGlite and a
 * PostgreSQL server run the same statements; each supplies a {@linkcode SqlSession}
 * and its fastest way to write rows.
 *
 * @module
 */
import * as v from "valibot";
import { fitIdentifier, quoteIdent as q, quoteLiteral } from "../normalize/naming.ts";
import type { Row } from "../normalize/normalize.ts";
import {
  descendants,
  type StoredSchema,
  StoredSchemaSchema,
  SYSTEM_COLUMNS as S,
} from "../normalize/schema.ts";
import { stringifyJson } from "../core/json.ts";
import { familyRules, HISTORY_PICKS } from "./rules.ts";
import {
  deleteGoneSql,
  deleteRuleSql,
  type FamilyNames,
  goneKeysTable,
  goneTable,
  historyRuleSql,
  keyText,
  type Statement,
  tableName,
} from "./sql_rules.ts";
import { VERSION } from "../core/version.ts";
import {
  type CommitCounts,
  type CommitJob,
  type Destination,
  type LoadRecord,
  LOADS_TABLE,
  type QueryResult,
  type RootWrite,
  STATE_TABLE,
  VERSION_TABLE,
  type ViewDefinition,
  VIEWS_TABLE,
} from "./destination.ts";

/** One connection that runs SQL, in order. */
export interface SqlSession {
  /** Runs one statement with `$1`… parameters. */
  query<T>(text: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Runs statements without parameters (several, separated by semicolons). */
  exec(text: string): Promise<void>;
}

/**
 * A destination that speaks Postgres SQL: everything but the connection and the way
 * rows are written. Calls run one at a time, in order.
 */
export abstract class SqlDestination implements Destination {
  abstract readonly description: string;
  /** Rows a run buffers before it writes a batch (the run's default when undefined). */
  readonly batchRows: number | undefined = undefined;
  /** The connection every statement goes through. */
  protected abstract readonly session: SqlSession;
  #queue: Promise<unknown> = Promise.resolve();
  /** The open run: its dataset, live schema and the column types each table has now. */
  #run: {
    dataset: string;
    schema: StoredSchema;
    columns: Map<string, string>;
    /** Whether this run dropped the spec's views (to alter a table under them). */
    viewsDropped: boolean;
  } | undefined;

  /** Writes rows (already normalised) into an existing table of the open run. */
  protected abstract writeRows(
    dataset: string,
    table: string,
    columns: Record<string, { type: string }>,
    rows: Row[],
  ): Promise<void>;

  /** Holds the dataset for a run; throws when another run holds it. */
  protected abstract lock(dataset: string, purpose: string): Promise<void>;

  /** Releases what {@linkcode lock} took. */
  protected abstract unlock(): Promise<void>;

  /** Closes the connection. */
  protected abstract disconnect(): Promise<void>;

  /** Runs `fn` after every call before it. */
  protected serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Closes the connection, rolling back a run left open. */
  async close(): Promise<void> {
    try {
      await this.#queue.catch(() => {});
      if (this.#run) await this.session.exec("rollback").catch(() => {});
      this.#run = undefined;
      await this.unlock().catch(() => {});
    } finally {
      await this.disconnect();
    }
  }

  /** Does the dataset hold a load? */
  async hasDataset(dataset: string): Promise<boolean> {
    const r = await this.session.query<{ n: number }>(
      `select count(*)::int as n from information_schema.tables
       where table_schema = $1 and table_name = $2`,
      [dataset, LOADS_TABLE],
    );
    return Number(r.rows[0].n) > 0;
  }

  /** The datasets that hold loads. */
  async datasets(): Promise<string[]> {
    const r = await this.session.query<{ table_schema: string }>(
      `select table_schema from information_schema.tables where table_name = $1 order by 1`,
      [LOADS_TABLE],
    );
    return r.rows.map((x) => x.table_schema);
  }

  /** The schema stored by the last successful load, or undefined for a new dataset. */
  async readSchema(dataset: string): Promise<StoredSchema | undefined> {
    if (!(await this.hasDataset(dataset))) return undefined;
    const r = await this.session.query<{ schema: unknown }>(
      `select schema from ${q(dataset)}.${q(VERSION_TABLE)} order by version desc limit 1`,
    );
    return r.rows.length === 0 ? undefined : v.parse(StoredSchemaSchema, r.rows[0].schema);
  }

  /** The state stored by the last successful load. */
  async readState(dataset: string): Promise<Record<string, unknown>> {
    if (!(await this.hasDataset(dataset))) return {};
    const r = await this.session.query<{ state: Record<string, unknown> }>(
      `select state from ${q(dataset)}.${
        q(STATE_TABLE)
      } order by created_at desc, load_id desc limit 1`,
    );
    return r.rows[0]?.state ?? {};
  }

  /** Load history, newest first. */
  async loads(dataset: string, limit = 20): Promise<LoadRecord[]> {
    if (!(await this.hasDataset(dataset))) return [];
    const r = await this.session.query<LoadRecord>(
      // status: 0 (dlt's "loaded") or, in a dataset older than dlt's columns, the text
      `select load_id,
         case when status::text in ('0', 'completed') then 'completed' else 'failed' end as status,
         started_at, finished_at, rows, error, to_jsonb(l) -> 'resources' as resources,
         coalesce(to_jsonb(l) -> 'deleted', '{}'::jsonb) as deleted
       from ${q(dataset)}.${q(LOADS_TABLE)} l order by started_at desc limit $1`,
      [limit],
    );
    return r.rows.map((l) => ({
      ...l,
      started_at: new Date(l.started_at),
      finished_at: new Date(l.finished_at),
    }));
  }

  /** Runs one statement: read-only (in a transaction rolled back) unless `write`. */
  query<T = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    options: { write?: boolean } = {},
  ): Promise<QueryResult<T>> {
    return this.serial(async () => {
      if (options.write) return await this.session.query<T>(sql, params);
      await this.session.exec("begin transaction read only");
      try {
        return await this.session.query<T>(sql, params);
      } finally {
        await this.session.exec("rollback").catch(() => {});
      }
    });
  }

  /** Pages of a read-only statement's rows, through a cursor (see the interface). */
  readPages<T = Record<string, unknown>>(
    sql: string,
    pageRows: number,
    onPage: (rows: T[], fields: { name: string }[]) => Promise<boolean | void>,
  ): Promise<void> {
    const text = sql.trim().replace(/;+\s*$/, "");
    return this.serial(async () => {
      if (this.#run) throw new Error("a run holds this connection: read after it commits");
      await this.session.exec("begin transaction read only");
      try {
        let declared = true;
        try {
          await this.session.query(`declare restpipe_read no scroll cursor for ${text}`);
        } catch {
          declared = false;
        }
        if (!declared) {
          // not a query a cursor takes: run it as it is (its error, if any, is the real one)
          await this.session.exec("rollback");
          await this.session.exec("begin transaction read only");
          const r = await this.session.query<T>(text);
          await onPage(r.rows, r.fields);
          return;
        }
        for (;;) {
          const r = await this.session.query<T>(`fetch ${pageRows} from restpipe_read`);
          if (r.rows.length > 0 || r.fields.length > 0) {
            if ((await onPage(r.rows, r.fields)) === false) return;
          }
          if (r.rows.length < pageRows) return;
        }
      } finally {
        await this.session.exec("rollback").catch(() => {});
      }
    });
  }

  /**
   * Opens the run's transaction. Rows written from now on land in their final tables
   * but stay invisible and revocable until {@linkcode commit}: a failure rolls them
   * back, and a killed process leaves nothing, since Postgres discards an uncommitted
   * transaction.
   */
  begin(dataset: string, schema: StoredSchema, purpose = "run"): Promise<void> {
    return this.serial(async () => {
      await this.lock(dataset, purpose);
      await this.session.exec("begin");
      this.#run = { dataset, schema, columns: new Map(), viewsDropped: false };
      await ensureSystemTables(this.session, dataset);
    });
  }

  /**
   * Drops the views earlier loads made, once per run, before a table under them is
   * altered (Postgres refuses to widen a column a view reads). Readers wait for the
   * altered table anyway; a run that alters nothing never locks the views.
   */
  async #dropViews(): Promise<void> {
    const run = this.#run!;
    if (run.viewsDropped) return;
    await dropViews(this.session, run.dataset);
    run.viewsDropped = true;
  }

  /**
   * Makes the spec's views when they differ from those the dataset holds (new, changed,
   * refused before, or dropped by this run); else leaves them, and their readers, alone.
   */
  async #refreshViews(job: CommitJob): Promise<void> {
    const views = job.views ?? [];
    const held = await this.session.query<{ name: string; sql: string }>(
      `select name, sql from ${q(job.dataset)}.${q(VIEWS_TABLE)} order by position`,
    );
    const same = !this.#run?.viewsDropped && held.rows.length === views.length &&
      held.rows.every((h, i) => h.name === views[i].name && h.sql === views[i].sql);
    if (same) return;
    await this.#dropViews();
    await makeViews(this.session, job.dataset, views, job.viewFailed);
  }

  /** Writes rows into a table of the open run, adding the table or its new columns first. */
  stage(table: string, rows: Row[], resource = table): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.serial(async () => {
      const run = this.#run;
      if (!run) throw new Error("stage() outside a run: call begin() first");
      const columns = run.schema.tables[table].columns;
      const want = Object.values(columns).map((c) => c.type).join();
      if (run.columns.get(table) !== want) {
        await ensureTable(this.session, run.dataset, table, run.schema, () => this.#dropViews());
        run.columns.set(table, want);
      }
      try {
        await this.writeRows(run.dataset, table, columns, rows);
      } catch (e) {
        throw new Error(
          `${resource}: could not write rows into table ${table}: ${describeRejection(e, rows)}`,
          { cause: e },
        );
      }
    });
  }

  /** Applies every disposition, the schema, the state and the load record, and commits. */
  commit(job: CommitJob): Promise<CommitCounts> {
    return this.serial(async () => {
      const tx = this.session;
      const counts: CommitCounts = {};
      const deleted = new Map<string, string>();
      const ensured = this.#run?.columns ?? new Map<string, string>();
      for (const [i, root] of job.roots.entries()) {
        const family = [root.table, ...descendants(job.schema, root.table)];
        for (const t of family) {
          // tables written in this run already have their columns; the others are made now
          const want = Object.values(job.schema.tables[t].columns).map((c) => c.type).join();
          if (ensured.get(t) !== want) {
            await ensureTable(tx, job.dataset, t, job.schema, () => this.#dropViews());
          }
        }
        Object.assign(counts, await finishFamily(tx, job, root, family, i, deleted));
      }
      const deletedKeys = new Map<string, Set<string>>();
      for (const [table, temp] of deleted) {
        const r = await tx.query<{ v: string }>(`select v from ${temp}`);
        deletedKeys.set(table, new Set(r.rows.map((x) => x.v)));
      }
      await this.#refreshViews(job);
      const ds = q(job.dataset);
      const schemaText = JSON.stringify(job.schema);
      const hash = await schemaHash(schemaText);
      await tx.query(
        `insert into ${ds}.${q(VERSION_TABLE)} (load_id, schema, schema_name, version_hash)
         values ($1, $2::text::jsonb, $3, $4)`,
        [job.loadId, schemaText, job.pipeline, hash],
      );
      await tx.query(
        `insert into ${ds}.${
          q(STATE_TABLE)
        } (load_id, pipeline_name, state) values ($1, $2, $3::text::jsonb)`,
        [job.loadId, job.pipeline, JSON.stringify(job.state(deletedKeys))],
      );
      // the load record last, just before the commit (its finished_at is the commit's)
      // dlt's columns (load_id, schema_name, status 0 = loaded, inserted_at,
      // schema_version_hash), then restpipe's own figures
      await tx.query(
        `insert into ${ds}.${q(LOADS_TABLE)}
           (load_id, schema_name, status, inserted_at, schema_version_hash, pipeline_name,
            started_at, finished_at, rows, resources, deleted, restpipe_version)
         values ($1, $2, 0, clock_timestamp(), $3, $2, $4, clock_timestamp(), $5::text::jsonb,
           $6::text::jsonb, $7::text::jsonb, $8)`,
        [
          job.loadId,
          job.pipeline,
          hash,
          job.startedAt.toISOString(),
          JSON.stringify(counts),
          JSON.stringify(job.resources ?? {}),
          JSON.stringify(
            Object.fromEntries(
              [...deletedKeys].filter(([, k]) => k.size > 0).map(([t, k]) => [t, k.size]),
            ),
          ),
          VERSION,
        ],
      );
      await tx.exec("commit");
      this.#run = undefined;
      await this.unlock();
      return counts;
    });
  }

  /** Rolls the run back and records the failure in the load history. */
  recordFailure(
    pipeline: string,
    dataset: string,
    loadId: string,
    startedAt: Date,
    error: string,
  ): Promise<void> {
    return this.serial(async () => {
      if (this.#run) {
        await this.session.exec("rollback");
        this.#run = undefined;
      }
      await this.session.exec("begin");
      try {
        await ensureSystemTables(this.session, dataset);
        // status 1: not loaded (dlt records only loads it completed, as 0)
        await this.session.query(
          `insert into ${q(dataset)}.${q(LOADS_TABLE)}
             (load_id, schema_name, status, inserted_at, pipeline_name, started_at,
              finished_at, rows, error, restpipe_version)
           values ($1, $2, 1, clock_timestamp(), $2, $3, clock_timestamp(), '{}', $4, $5)`,
          [loadId, pipeline, startedAt.toISOString(), error, VERSION],
        );
        await this.session.exec("commit");
      } catch (e) {
        await this.session.exec("rollback").catch(() => {});
        throw e;
      } finally {
        await this.unlock();
      }
    });
  }
}

/** Creates the dataset's schema and system tables when missing. */
export async function ensureSystemTables(tx: SqlSession, dataset: string): Promise<void> {
  const ds = q(dataset);
  // _dlt_loads has dlt's columns first (status 0 = loaded), then restpipe's figures
  await tx.exec(`
    create schema if not exists ${ds};
    create table if not exists ${ds}.${q(LOADS_TABLE)} (
      load_id text primary key, schema_name text, status bigint not null,
      inserted_at timestamptz not null default clock_timestamp(), schema_version_hash text,
      pipeline_name text not null, started_at timestamptz not null,
      finished_at timestamptz not null, rows jsonb not null, error text, resources jsonb,
      deleted jsonb, restpipe_version text);
    create table if not exists ${ds}.${q(VERSION_TABLE)} (
      version bigserial primary key, load_id text not null, schema jsonb not null,
      inserted_at timestamptz not null default now(), schema_name text, version_hash text);
    create table if not exists ${ds}.${q(STATE_TABLE)} (
      load_id text primary key, pipeline_name text not null, state jsonb not null,
      created_at timestamptz not null default clock_timestamp());
    create table if not exists ${ds}.${q(VIEWS_TABLE)} (
      name text primary key, position int not null, sql text not null);
  `);
  // a dataset made before some of these columns gains them, its text status becoming 0
  // (completed) or 1. Only what is missing is altered: an alter table locks the table
  // for the whole run, and readers (show, the dashboard, the next run's plan) would wait
  const have = await tx.query<{ t: string; c: string; type: string }>(
    `select table_name as t, column_name as c, data_type as type from information_schema.columns
     where table_schema = $1 and table_name in ($2, $3)`,
    [dataset, LOADS_TABLE, VERSION_TABLE],
  );
  const typeOf = (t: string, c: string) => have.rows.find((r) => r.t === t && r.c === c)?.type;
  const wanted: [string, string, string][] = [
    [LOADS_TABLE, "resources", "jsonb"],
    [LOADS_TABLE, "schema_name", "text"],
    [LOADS_TABLE, "inserted_at", "timestamptz"],
    [LOADS_TABLE, "schema_version_hash", "text"],
    [LOADS_TABLE, "deleted", "jsonb"],
    [LOADS_TABLE, "restpipe_version", "text"],
    [VERSION_TABLE, "schema_name", "text"],
    [VERSION_TABLE, "version_hash", "text"],
  ];
  for (const [t, c, type] of wanted) {
    if (typeOf(t, c) === undefined) {
      await tx.exec(`alter table ${ds}.${q(t)} add column ${q(c)} ${type}`);
    }
  }
  if (typeOf(LOADS_TABLE, "status") === "text") {
    await tx.exec(`
      alter table ${ds}.${q(LOADS_TABLE)} alter column status type bigint
        using case when status = 'completed' then 0 else 1 end;
      update ${ds}.${q(LOADS_TABLE)} set schema_name = pipeline_name, inserted_at = finished_at
        where schema_name is null;
    `);
  }
}

/** A schema's version hash, as dlt keeps one: the SHA-256 of its JSON, in base64. */
async function schemaHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/**
 * Drops the views earlier loads made (last made, first dropped), so that the run may
 * add columns to their tables or widen them. The drop is part of the run's
 * transaction: until the commit makes them again, readers see the old views (or wait
 * for them, as they wait for the tables the run alters).
 */
export async function dropViews(tx: SqlSession, dataset: string): Promise<void> {
  const ds = q(dataset);
  const made = await tx.query<{ name: string }>(
    `select name from ${ds}.${q(VIEWS_TABLE)} order by position desc`,
  );
  for (const { name } of made.rows) {
    try {
      await tx.exec(`drop view if exists ${ds}.${q(name)}`);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(
        `view ${dataset}.${name} (made by the spec's views:) cannot be made again: ${why}; ` +
          `a view of your own reads it: drop that view, or declare it under views: too`,
        { cause: e },
      );
    }
  }
  await tx.exec(`delete from ${ds}.${q(VIEWS_TABLE)}`);
}

/**
 * Makes the spec's views, in order, with the dataset first on the search path (a view
 * names tables without their schema). A view Postgres refuses (a table or column this
 * dataset does not hold yet, a mistake in its SQL) is left out and reported; the load
 * commits without it.
 */
export async function makeViews(
  tx: SqlSession,
  dataset: string,
  views: readonly ViewDefinition[],
  failed: (name: string, message: string) => void = () => {},
): Promise<void> {
  if (views.length === 0) return;
  const ds = q(dataset);
  await tx.exec(`set local search_path to ${ds}`);
  for (const [position, view] of views.entries()) {
    await tx.exec("savepoint restpipe_view");
    try {
      await tx.exec(`create view ${ds}.${q(view.name)} as ${view.sql}`);
      await tx.query(
        `insert into ${ds}.${q(VIEWS_TABLE)} (name, position, sql) values ($1, $2, $3)`,
        [view.name, position, view.sql],
      );
      await tx.exec("release savepoint restpipe_view");
    } catch (e) {
      await tx.exec("rollback to savepoint restpipe_view");
      failed(view.name, e instanceof Error ? e.message : String(e));
    }
  }
  // `set local` ends with the transaction: the connection's own search path comes back
}

/** Creates the table, or adds the columns it lacks. */
export async function ensureTable(
  tx: SqlSession,
  dataset: string,
  table: string,
  schema: StoredSchema,
  beforeAlter: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const cols = schema.tables[table].columns;
  const existing = await tx.query<{ column_name: string; data_type: string }>(
    `select column_name, data_type from information_schema.columns
     where table_schema = $1 and table_name = $2`,
    [dataset, table],
  );
  const target = `${q(dataset)}.${q(table)}`;
  if (existing.rows.length === 0) {
    const defs = Object.entries(cols).map(([c, { type }]) => `${q(c)} ${type}`);
    await tx.exec(`create table ${target} (${defs.join(", ")})`);
    return;
  }
  const have = new Map(existing.rows.map((r) => [r.column_name, r.data_type]));
  const missing = Object.entries(cols).filter(([c]) => !have.has(c));
  // widening: a bigint column that met a fraction or an integer past 64 bits, a key
  // column that met a key of another kind (its values keep their canonical text)
  for (const [c, { type }] of Object.entries(cols)) {
    const now = have.get(c);
    if (now === undefined || now === type) continue;
    const widen = (type === "double precision" && now === "bigint") ||
      (type === "numeric" && now === "bigint") || type === "text";
    if (widen) {
      await beforeAlter();
      await tx.exec(
        `alter table ${target} alter column ${q(c)} type ${type} using ${q(c)}::${type}`,
      );
    }
  }
  if (missing.length > 0) {
    await beforeAlter();
    await tx.exec(
      `alter table ${target} ${
        missing.map(([c, { type }]) => `add column ${q(c)} ${type}`).join(", ")
      }`,
    );
  }
}

/** Rows as a JSON array; integers past 2^53 (bigint) are written with every digit. */
export function rowsJson(rows: Row[]): string {
  return stringifyJson(rows);
}

/** Names the column and the kind of value Postgres refused, when it can tell. */
export function describeRejection(e: unknown, rows: Row[]): string {
  const message = e instanceof Error ? e.message : String(e);
  const column = /column "([^"]+)"/.exec(message)?.[1];
  if (column === undefined) return message;
  const value = rows.find((r) => r[column] !== undefined && r[column] !== null)?.[column];
  const kind = Array.isArray(value) ? "list" : value === null ? "null" : typeof value;
  return `column ${column} (a ${kind} value): ${message}`;
}

/** Runs a rule's statements (a repeated one until it changes no row). */
async function runAll(tx: SqlSession, statements: readonly Statement[]): Promise<void> {
  for (const st of statements) {
    if (st.repeat) {
      for (;;) {
        const r = await tx.query(st.text, st.params);
        if ((r.affectedRows ?? 0) === 0) break;
      }
    } else if (st.params) await tx.query(st.text, st.params);
    else await tx.exec(st.text);
  }
}

/** An index on the key columns speeds the rules' joins up; one a btree cannot hold is skipped. */
async function tryKeyIndex(tx: SqlSession, n: FamilyNames): Promise<void> {
  // a key too long for a btree (> 2.7 kB) must not fail the load, so the index is only tried
  await tx.exec("savepoint restpipe_key_index");
  try {
    await tx.exec(
      `create index if not exists ${q(fitIdentifier(`${n.table}_key_idx`))}
         on ${tableName(n.dataset, n.table)} (${n.keys.map(q).join(", ")})`,
    );
    await tx.exec("release savepoint restpipe_key_index");
  } catch {
    await tx.exec("rollback to savepoint restpipe_key_index");
  }
}

/**
 * Finishes one root table and its child tables by the rules of its disposition
 * (`rules.ts`). The run's rows are already in place (`_dlt_load_id` = this load); the
 * rules pick the rows they replace, which go with their child rows. The keys deleted
 * here (no row left) are kept in a temp table (named in `deleted`) for the child
 * resources that follow and for the state.
 */
async function finishFamily(
  tx: SqlSession,
  job: CommitJob,
  root: RootWrite,
  family: string[],
  index: number,
  deleted: Map<string, string>,
): Promise<CommitCounts> {
  const plan = familyRules(root, {
    columns: Object.keys(job.schema.tables[root.table].columns),
    fullRefresh: job.fullRefresh,
  });
  const n: FamilyNames = {
    dataset: job.dataset,
    table: root.table,
    index,
    loadId: job.loadId,
    startedAt: job.startedAt,
    keys: plan.keys,
  };
  if (n.keys.length > 0) await tryKeyIndex(tx, n);
  await tx.exec(`create temp table ${goneTable(n)} (id text primary key) on commit drop`);
  const children = family.slice(1);
  if (plan.kind === "history") {
    const picks = plan.rules.filter((r) => HISTORY_PICKS.has(r.kind));
    for (const rule of picks) await runAll(tx, historyRuleSql(rule, n));
    await runAll(tx, deleteGoneSql(n, children));
    for (const rule of plan.rules.filter((r) => !HISTORY_PICKS.has(r.kind))) {
      await runAll(tx, historyRuleSql(rule, n));
    }
    return await familyCounts(tx, job, root, family);
  }
  for (const rule of plan.rules) await runAll(tx, deleteRuleSql(rule, n, deleted));
  // keys of the rows about to go, to tell deleted keys (no row left) from replaced ones
  const t = tableName(n.dataset, n.table);
  if (plan.trackDeleted) {
    await tx.exec(
      `create temp table ${goneKeysTable(n)} on commit drop as
       select distinct ${keyText("r", n.keys)} as v from ${t} r
       where r.${q(S.id)} in (select id from ${goneTable(n)})`,
    );
  }
  await runAll(tx, deleteGoneSql(n, children));
  if (plan.trackDeleted) {
    await tx.exec(
      `delete from ${goneKeysTable(n)} g where exists
         (select 1 from ${t} r where ${keyText("r", n.keys)} = g.v)`,
    );
    deleted.set(root.table, goneKeysTable(n));
  }
  return await familyCounts(tx, job, root, family);
}

/** Rows this load wrote to a root table and to each of its child tables. */
async function familyCounts(
  tx: SqlSession,
  job: CommitJob,
  root: RootWrite,
  family: string[],
): Promise<CommitCounts> {
  const final = (t: string) => `${q(job.dataset)}.${q(t)}`;
  const rootTable = final(root.table);
  const ofLoad = `select ${q(S.id)} from ${rootTable} where ${q(S.loadId)} = ${
    quoteLiteral(job.loadId)
  }`;
  const counts: CommitCounts = {};
  const n = await tx.query<{ n: number }>(`select count(*)::int as n from (${ofLoad}) r`);
  counts[root.table] = n.rows[0].n;
  for (const t of family.slice(1)) {
    // every row id of a load starts with the load's prefix: a scan, not a join
    const c = await tx.query<{ n: number }>(
      job.rowIdPrefix
        ? `select count(*)::int as n from ${final(t)} c
           where starts_with(c.${q(S.rootId)}, ${quoteLiteral(job.rowIdPrefix)})`
        : `select count(*)::int as n from ${final(t)} c where c.${q(S.rootId)} in (${ofLoad})`,
    );
    counts[t] = c.rows[0].n;
  }
  return counts;
}
