/**
 * The PGlite destination: an embedded Postgres in a directory (or in memory). A run
 * is one transaction; the directory is held by one process at a time.
 *
 * @module
 */
import { type CheckpointStore, FileCheckpointStore } from "../run/checkpoint.ts";
import type { PGlite } from "@electric-sql/pglite";
import { quoteIdent as q } from "../normalize/naming.ts";
import type { Row } from "../normalize/normalize.ts";
import type { QueryResult } from "./destination.ts";
import { rowsJson, SqlDestination, type SqlSession } from "./sql.ts";
import { openMemoryPglite, openPglite } from "./pglite_template.ts";
import { checkDatabaseDir, DatabaseDirError, type DirLock, lockDatabaseDir } from "./lock.ts";

export {
  type CommitCounts,
  type CommitJob,
  type LoadRecord,
  LOADS_TABLE,
  type ResourceFigures,
  type RootWrite,
  STATE_TABLE,
  VERSION_TABLE,
} from "./destination.ts";

/**
 * The PGlite instance of a destination (its own documentation is PGlite's).
 *
 * @ignore
 */
export type PGliteDatabase = PGlite;

/** An embedded Postgres database directory (or memory) holding datasets. */
export class PgliteDestination extends SqlDestination {
  /** The underlying PGlite instance (for `serve` and for tests). */
  readonly db: PGliteDatabase;
  /** Where the data goes. */
  readonly description: string;
  /** The connection every statement goes through. */
  protected readonly session: SqlSession;
  readonly #lock: DirLock | undefined;

  readonly #dir: string | undefined;

  private constructor(db: PGlite, dir: string | undefined, lock: DirLock | undefined) {
    super();
    this.db = db;
    this.#dir = dir;
    this.description = dir === undefined ? "PGlite in memory" : `PGlite ${dir}`;
    this.#lock = lock;
    this.session = {
      query: async <T>(text: string, params?: unknown[]): Promise<QueryResult<T>> => {
        const r = await db.query<T>(text, params);
        return { rows: r.rows, fields: r.fields, affectedRows: r.affectedRows };
      },
      exec: async (text: string) => {
        await db.exec(text);
      },
    };
  }

  /** A checkpoint in files inside the database folder (`restpipe-checkpoint/<dataset>`). */
  checkpointStore(dataset: string): CheckpointStore | undefined {
    return this.#dir === undefined
      ? undefined
      : new FileCheckpointStore(`${this.#dir}/restpipe-checkpoint/${dataset}`);
  }

  /**
   * Opens (creating when needed) the database in `dir`, or in memory when `dir` is
   * undefined. The directory is held for as long as it is open (`purpose` names the
   * holder to whoever else tries): a second open fails at once with
   * `DatabaseLockedError`. A `dir` that is a file, read-only, or another folder's
   * contents fails with `DatabaseDirError`.
   */
  static async open(dir?: string, purpose = "run"): Promise<PgliteDestination> {
    if (dir === undefined) {
      return new PgliteDestination(await openMemoryPglite(), undefined, undefined);
    }
    await checkDatabaseDir(dir);
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new DatabaseDirError(
        `--db ${dir}: cannot be created (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    const lock = await lockDatabaseDir(dir, purpose);
    try {
      return new PgliteDestination(await openPglite(dir), dir, lock);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** The directory is held from open to close: nothing more to take per run. */
  protected lock(): Promise<void> {
    return Promise.resolve();
  }

  /** Released with the directory at close. */
  protected unlock(): Promise<void> {
    return Promise.resolve();
  }

  /** Closes PGlite and releases the directory. */
  protected async disconnect(): Promise<void> {
    try {
      await this.db.close();
    } finally {
      this.#lock?.release();
    }
  }

  /** One statement per batch: the rows as a JSON array, spread into the table's columns. */
  protected async writeRows(
    dataset: string,
    table: string,
    _columns: Record<string, { type: string }>,
    rows: Row[],
  ): Promise<void> {
    const target = `${q(dataset)}.${q(table)}`;
    await this.db.query(
      `insert into ${target} select * from jsonb_populate_recordset(null::${target}, $1::text::jsonb)`,
      [rowsJson(rows)],
    );
  }
}
