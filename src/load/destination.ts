/**
 * The destination interface: what a run, `show`, `sql` and `plan` need from a
 * database, whichever it is (PGlite on disk, or a PostgreSQL server).
 *
 * @module
 */
import type { WriteDisposition } from "../spec/schema.ts";
import type { Row } from "../normalize/normalize.ts";
import type { StoredSchema } from "../normalize/schema.ts";
import type { CheckpointStore } from "../run/checkpoint.ts";

/** Load history table. */
export const LOADS_TABLE = "_dlt_loads";
/** Pipeline state table. */
export const STATE_TABLE = "_dlt_pipeline_state";
/** Stored schema versions. */
export const VERSION_TABLE = "_dlt_version";
/** The views restpipe made in the dataset, in the order it made them. */
export const VIEWS_TABLE = "_restpipe_views";

/** A view the spec declares: made in the dataset after every load. */
export interface ViewDefinition {
  /** The view's name in the dataset. */
  name: string;
  /** Its query, over the dataset's tables named without their schema. */
  sql: string;
}

/** A root table to write in the commit, with its disposition. */
export interface RootWrite {
  /** The root table. */
  table: string;
  /** The resource that fills it. */
  resource: string;
  /** How its rows are written. */
  disposition: WriteDisposition;
  /** Primary key columns (replace and merge deduplicate on them; merge upserts). */
  keyColumns: string[];
  /** The root tables of the parent resources (loaded in this run), for a child resource. */
  parentTables?: string[];
  /**
   * When the run saw only some parents whole (an incremental ancestor, or listings that
   * were skipped or capped): the parent keys whose listings completed. Earlier rows are
   * replaced within those parents only (and where a new row has their key); rows of
   * every other parent are kept. A root resource has none: `[]` keeps every older row.
   */
  refreshedParents?: string[];
  /** For a reconciled resource: every key the API holds; other rows are deleted. */
  currentKeys?: string[];
  /**
   * For a reconciled resource that verifies its deletions (`reconcile.verify`): the keys
   * the API answered 404 or 410 for; their older rows are deleted (with their children).
   */
  goneKeys?: string[];
  /**
   * scd2: the listings list every record (no incremental filter), so a current version
   * whose key is missing from a complete listing is closed.
   */
  retireAbsent?: boolean;
}

/** Everything the final transaction needs. */
export interface CommitJob {
  /** The pipeline name (`_dlt_loads.pipeline_name`). */
  pipeline: string;
  /** The dataset (Postgres schema) that receives the tables. */
  dataset: string;
  /** The load's id (dlt's format: seconds since the epoch). */
  loadId: string;
  /** The run's start. */
  startedAt: Date;
  /** The live schema, with every table and column the run wrote. */
  schema: StoredSchema;
  /** Every root table to finish, in dependency order. */
  roots: RootWrite[];
  /**
   * Pipeline state to store with the load, given the keys deleted from each root table
   * (no row left), so that cursors of partitions whose rows went can be reset.
   */
  state: (deleted: ReadonlyMap<string, ReadonlySet<string>>) => Record<string, unknown>;
  /** Rebuild: every table becomes exactly this run's rows, whatever its disposition. */
  fullRefresh?: boolean;
  /** The prefix every row id of this load starts with (counts child rows without a join). */
  rowIdPrefix?: string;
  /** What each resource extracted (records, requests, request chains), for later plans. */
  resources?: Record<string, ResourceFigures>;
  /**
   * The spec's views, made (again) in this order after the rows are written. Views of
   * earlier loads are dropped when the run begins, so tables may change under them.
   */
  views?: ViewDefinition[];
  /** Told of each view Postgres refused (the load commits without it). */
  viewFailed?: (name: string, message: string) => void;
}

/** One resource's figures in a load. */
export interface ResourceFigures {
  /** Records received. */
  rows: number;
  /** Requests made. */
  requests: number;
  /** Request chains: one per parent record (one for a root resource). */
  chains: number;
  /** Seconds from the resource's first request to its last response (loads since 0.1). */
  seconds?: number;
  /** Its parents in the spec; itself among them when it is recursive. */
  parents?: string[];
  /** The root table it fills. */
  table?: string;
  /** False for a resource fetched only for its children (not loaded). */
  loaded?: boolean;
}

/** What a commit wrote: rows per table. */
export type CommitCounts = Record<string, number>;

/** One past load, as `_dlt_loads` records it. */
export interface LoadRecord {
  /** The load's id. */
  load_id: string;
  /** `completed` or `failed`. */
  status: string;
  /** When the run started. */
  started_at: Date;
  /** When it committed (or failed). */
  finished_at: Date;
  /** Rows the commit wrote, by table. */
  rows: Record<string, number>;
  /** Why it failed (secrets removed), or null. */
  error: string | null;
  /** What each resource extracted (null for loads older than that record). */
  resources: Record<string, ResourceFigures> | null;
  /** Records the load deleted because the API no longer has them, by root table. */
  deleted: Record<string, number>;
}

/** The result of a query. */
export interface QueryResult<T> {
  /** The rows, as objects keyed by column name. */
  rows: T[];
  /** Column names, in order. */
  fields: { name: string }[];
  /** Rows a statement changed, when it changed any. */
  affectedRows?: number;
}

/**
 * A database that receives loads. A run calls, in order: {@linkcode readSchema},
 * {@linkcode readState}, {@linkcode begin}, {@linkcode stage} (many times), then
 * {@linkcode commit} or {@linkcode recordFailure}. Nothing is visible to readers until
 * the commit, and a killed run leaves the previous load as it was. Opening a
 * destination for a run holds it: a second run on the same dataset is refused.
 */
export interface Destination {
  /** Where the data goes, for messages (never holding a password). */
  readonly description: string;
  /** Rows a run buffers before it writes a batch, when this destination prefers its own. */
  readonly batchRows?: number;
  /** Does the dataset hold a load? */
  hasDataset(dataset: string): Promise<boolean>;
  /** The datasets that hold loads. */
  datasets(): Promise<string[]>;
  /** The schema stored by the last successful load, or undefined for a new dataset. */
  readSchema(dataset: string): Promise<StoredSchema | undefined>;
  /** The state stored by the last successful load. */
  readState(dataset: string): Promise<Record<string, unknown>>;
  /** Load history, newest first. */
  loads(dataset: string, limit?: number): Promise<LoadRecord[]>;
  /**
   * Holds the dataset for a run (`purpose` names the holder to whoever else tries), and
   * opens the run's transaction; `schema` is the live schema the normaliser grows.
   */
  begin(dataset: string, schema: StoredSchema, purpose?: string): Promise<void>;
  /** Writes rows into a table of the open run, adding the table or its new columns first. */
  stage(table: string, rows: Row[], resource?: string): Promise<void>;
  /** Applies every disposition, the schema, the state and the load record, and commits. */
  commit(job: CommitJob): Promise<CommitCounts>;
  /** Rolls the run back and records the failure in the load history. */
  recordFailure(
    pipeline: string,
    dataset: string,
    loadId: string,
    startedAt: Date,
    error: string,
  ): Promise<void>;
  /** Runs one statement: read-only (in a transaction rolled back) unless `write`. */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: { write?: boolean },
  ): Promise<QueryResult<T>>;
  /**
   * Runs one read-only statement (rolled back, whatever it is) and hands its rows over
   * `pageRows` at a time, through a cursor: the whole result is never in memory at once.
   * `onPage` returns false to stop early. A statement that cannot be a cursor's query
   * (`show`, `explain` …) runs as it is and arrives as one page.
   */
  readPages<T = Record<string, unknown>>(
    sql: string,
    pageRows: number,
    onPage: (rows: T[], fields: { name: string }[]) => Promise<boolean | void>,
  ): Promise<void>;
  /** Closes the connection, rolling back a run left open, and releases what it held. */
  close(): Promise<void>;
  /**
   * Where a dataset's checkpoint is kept (beside the database, outside every run), when
   * this destination can keep one (a database in memory cannot).
   */
  checkpointStore?(dataset: string): CheckpointStore | undefined;
}
