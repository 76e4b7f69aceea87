/**
 * The PGlite destination: rows are staged while a run extracts, then every
 * table, the state and the load record are committed in one transaction.
 *
 * @module
 */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { WriteDisposition } from "../spec/schema.ts";
import { fitIdentifier, quoteIdent as q, quoteLiteral } from "../normalize/naming.ts";
import type { Row } from "../normalize/normalize.ts";
import {
  descendants,
  type StoredSchema,
  StoredSchemaSchema,
  SYSTEM_COLUMNS as S,
} from "../normalize/schema.ts";
import * as v from "valibot";

/** Load history table. */
export const LOADS_TABLE = "_dlt_loads";
/** Pipeline state table. */
export const STATE_TABLE = "_dlt_pipeline_state";
/** Stored schema versions. */
export const VERSION_TABLE = "_dlt_version";

/** A root table to write in the commit, with its disposition. */
export interface RootWrite {
  table: string;
  resource: string;
  disposition: WriteDisposition;
  /** Primary key columns (replace and merge deduplicate on them; merge upserts). */
  keyColumns: string[];
}

/** Everything the final transaction needs. */
export interface CommitJob {
  pipeline: string;
  dataset: string;
  loadId: string;
  startedAt: Date;
  schema: StoredSchema;
  roots: RootWrite[];
  /** Pipeline state to store with the load. */
  state: Record<string, unknown>;
}

/** What a commit wrote: rows per table. */
export type CommitCounts = Record<string, number>;

/** One past load, as `_dlt_loads` records it. */
export interface LoadRecord {
  load_id: string;
  status: string;
  started_at: Date;
  finished_at: Date;
  rows: Record<string, number>;
  error: string | null;
}

/** An embedded Postgres database directory (or memory) holding datasets. */
export class PgliteDestination {
  /** The underlying PGlite instance, for queries. */
  readonly db: PGlite;
  readonly #staged = new Set<string>();
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(db: PGlite) {
    this.db = db;
  }

  /** Opens (creating when needed) the database in `dir`, or in memory when `dir` is undefined. */
  static async open(dir?: string): Promise<PgliteDestination> {
    if (dir !== undefined) await Deno.mkdir(dir, { recursive: true });
    const db = await PGlite.create(dir === undefined ? undefined : dir);
    return new PgliteDestination(db);
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.db.close();
  }

  /** The staging schema of a dataset. */
  static stagingSchema(dataset: string): string {
    return fitIdentifier(`${dataset}_staging`);
  }

  /** Does the dataset exist? */
  async hasDataset(dataset: string): Promise<boolean> {
    const r = await this.db.query<{ n: number }>(
      `select count(*)::int as n from information_schema.tables
       where table_schema = $1 and table_name = $2`,
      [dataset, LOADS_TABLE],
    );
    return r.rows[0].n > 0;
  }

  /** The schema stored by the last successful load, or undefined for a new dataset. */
  async readSchema(dataset: string): Promise<StoredSchema | undefined> {
    if (!(await this.hasDataset(dataset))) return undefined;
    const r = await this.db.query<{ schema: unknown }>(
      `select schema from ${q(dataset)}.${q(VERSION_TABLE)} order by version desc limit 1`,
    );
    return r.rows.length === 0 ? undefined : v.parse(StoredSchemaSchema, r.rows[0].schema);
  }

  /** The state stored by the last successful load. */
  async readState(dataset: string): Promise<Record<string, unknown>> {
    if (!(await this.hasDataset(dataset))) return {};
    const r = await this.db.query<{ state: Record<string, unknown> }>(
      `select state from ${q(dataset)}.${
        q(STATE_TABLE)
      } order by created_at desc, load_id desc limit 1`,
    );
    return r.rows[0]?.state ?? {};
  }

  /** Load history, newest first. */
  async loads(dataset: string, limit = 20): Promise<LoadRecord[]> {
    if (!(await this.hasDataset(dataset))) return [];
    const r = await this.db.query<LoadRecord>(
      `select load_id, status, started_at, finished_at, rows, error
       from ${q(dataset)}.${q(LOADS_TABLE)} order by started_at desc limit $1`,
      [limit],
    );
    return r.rows;
  }

  /** Drops what a crashed run may have left in staging and starts afresh. */
  async resetStaging(dataset: string): Promise<void> {
    const staging = q(PgliteDestination.stagingSchema(dataset));
    await this.#serial(() =>
      this.db.exec(`drop schema if exists ${staging} cascade; create schema ${staging};`)
    );
    this.#staged.clear();
  }

  /** Appends rows to a table's staging area (writes are serialised). */
  stage(dataset: string, table: string, rows: Row[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    const json = JSON.stringify(rows).replaceAll("\\u0000", "");
    return this.#serial(async () => {
      const target = `${q(PgliteDestination.stagingSchema(dataset))}.${q(table)}`;
      if (!this.#staged.has(table)) {
        await this.db.exec(
          `create table if not exists ${target} (seq bigserial, doc jsonb not null)`,
        );
        this.#staged.add(table);
      }
      await this.db.query(
        `insert into ${target} (doc) select value from jsonb_array_elements($1::jsonb)`,
        [json],
      );
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Applies every disposition, the schema, the state and the load record in one transaction. */
  commit(job: CommitJob): Promise<CommitCounts> {
    return this.#serial(() =>
      this.db.transaction(async (tx) => {
        await ensureSystemTables(tx, job.dataset);
        const counts: CommitCounts = {};
        for (const root of job.roots) {
          const family = [root.table, ...descendants(job.schema, root.table)];
          for (const t of family) await ensureTable(tx, job.dataset, t, job.schema);
          Object.assign(counts, await writeFamily(tx, job, root, family, this.#staged));
        }
        const ds = q(job.dataset);
        await tx.query(
          `insert into ${ds}.${q(LOADS_TABLE)}
             (load_id, pipeline_name, status, started_at, finished_at, rows)
           values ($1, $2, 'completed', $3, now(), $4)`,
          [job.loadId, job.pipeline, job.startedAt.toISOString(), JSON.stringify(counts)],
        );
        await tx.query(
          `insert into ${ds}.${q(VERSION_TABLE)} (load_id, schema) values ($1, $2)`,
          [job.loadId, JSON.stringify(job.schema)],
        );
        await tx.query(
          `insert into ${ds}.${q(STATE_TABLE)} (load_id, pipeline_name, state) values ($1, $2, $3)`,
          [job.loadId, job.pipeline, JSON.stringify(job.state)],
        );
        await tx.exec(
          `drop schema if exists ${q(PgliteDestination.stagingSchema(job.dataset))} cascade`,
        );
        this.#staged.clear();
        return counts;
      })
    );
  }

  /** Records a failed run in the load history; the data stays as the last load left it. */
  recordFailure(
    pipeline: string,
    dataset: string,
    loadId: string,
    startedAt: Date,
    error: string,
  ): Promise<void> {
    return this.#serial(async () => {
      await this.db.transaction(async (tx) => {
        await ensureSystemTables(tx, dataset);
        await tx.query(
          `insert into ${q(dataset)}.${q(LOADS_TABLE)}
             (load_id, pipeline_name, status, started_at, finished_at, rows, error)
           values ($1, $2, 'failed', $3, now(), '{}', $4)`,
          [loadId, pipeline, startedAt.toISOString(), error],
        );
        await tx.exec(
          `drop schema if exists ${q(PgliteDestination.stagingSchema(dataset))} cascade`,
        );
      });
      this.#staged.clear();
    });
  }
}

async function ensureSystemTables(tx: Transaction, dataset: string): Promise<void> {
  const ds = q(dataset);
  await tx.exec(`
    create schema if not exists ${ds};
    create table if not exists ${ds}.${q(LOADS_TABLE)} (
      load_id text primary key, pipeline_name text not null, status text not null,
      started_at timestamptz not null, finished_at timestamptz not null,
      rows jsonb not null, error text);
    create table if not exists ${ds}.${q(VERSION_TABLE)} (
      version bigserial primary key, load_id text not null, schema jsonb not null,
      inserted_at timestamptz not null default now());
    create table if not exists ${ds}.${q(STATE_TABLE)} (
      load_id text primary key, pipeline_name text not null, state jsonb not null,
      created_at timestamptz not null default clock_timestamp());
  `);
}

/** Creates the table, or adds the columns it lacks. */
async function ensureTable(
  tx: Transaction,
  dataset: string,
  table: string,
  schema: StoredSchema,
): Promise<void> {
  const cols = schema.tables[table].columns;
  const existing = await tx.query<{ column_name: string }>(
    `select column_name from information_schema.columns where table_schema = $1 and table_name = $2`,
    [dataset, table],
  );
  const target = `${q(dataset)}.${q(table)}`;
  if (existing.rows.length === 0) {
    const defs = Object.entries(cols).map(([c, { type }]) => `${q(c)} ${type}`);
    await tx.exec(`create table ${target} (${defs.join(", ")})`);
    const parent = schema.tables[table].parent;
    const index = parent === null ? S.id : S.rootId;
    await tx.exec(
      `create index ${q(fitIdentifier(`${table}_${index}_idx`))} on ${target} (${q(index)})`,
    );
    return;
  }
  const have = new Set(existing.rows.map((r) => r.column_name));
  const missing = Object.entries(cols).filter(([c]) => !have.has(c));
  if (missing.length > 0) {
    await tx.exec(
      `alter table ${target} ${
        missing.map(([c, { type }]) => `add column ${q(c)} ${type}`).join(", ")
      }`,
    );
  }
}

/** Writes one root table and its child tables according to the disposition. */
async function writeFamily(
  tx: Transaction,
  job: CommitJob,
  root: RootWrite,
  family: string[],
  staged: Set<string>,
): Promise<CommitCounts> {
  const ds = q(job.dataset);
  const st = q(PgliteDestination.stagingSchema(job.dataset));
  const final = (t: string) => `${ds}.${q(t)}`;
  const source = (t: string) =>
    staged.has(t)
      ? `${st}.${q(t)}`
      : `(select null::bigint as seq, null::jsonb as doc where false)`;
  const keys = root.keyColumns;
  const keyList = keys.map((k) => `doc->>${quoteLiteral(k)}`).join(", ");
  const counts: CommitCounts = {};

  // The root rows of this load: deduplicated on the primary key (the last one seen wins).
  const rootRows = keys.length > 0 && root.disposition !== "append"
    ? `(select distinct on (${keyList}) doc from ${
      source(root.table)
    } order by ${keyList}, seq desc)`
    : `(select doc from ${source(root.table)} order by seq)`;
  await tx.exec(`create temp table _restpipe_new on commit drop as select doc from ${rootRows} s`);

  if (root.disposition === "replace") {
    for (const t of family) await tx.exec(`delete from ${final(t)}`);
  } else if (root.disposition === "merge" && keys.length > 0) {
    const match = keys.map((k) => `r.${q(k)}::text = n.doc->>${quoteLiteral(k)}`).join(" and ");
    await tx.exec(
      `create temp table _restpipe_gone on commit drop as
       select r.${q(S.id)} as id from ${final(root.table)} r join _restpipe_new n on ${match}`,
    );
    for (const t of family.slice(1)) {
      await tx.exec(
        `delete from ${final(t)} where ${q(S.rootId)} in (select id from _restpipe_gone)`,
      );
    }
    await tx.exec(
      `delete from ${final(root.table)} where ${q(S.id)} in (select id from _restpipe_gone)`,
    );
    await tx.exec(`drop table _restpipe_gone`);
  }
  const inserted = await tx.query(
    `insert into ${final(root.table)}
     select (jsonb_populate_record(null::${final(root.table)}, doc)).* from _restpipe_new`,
  );
  counts[root.table] = inserted.affectedRows ?? 0;
  for (const t of family.slice(1)) {
    const r = await tx.query(
      `insert into ${final(t)}
       select (jsonb_populate_record(null::${final(t)}, s.doc)).* from ${source(t)} s
       where s.doc->>${quoteLiteral(S.rootId)} in (select doc->>${
        quoteLiteral(S.id)
      } from _restpipe_new)
       order by s.seq`,
    );
    counts[t] = r.affectedRows ?? 0;
  }
  await tx.exec(`drop table _restpipe_new`);
  return counts;
}
