/**
 * The PostgreSQL destination: the same tables, system tables and guarantees as
 * PGlite, in a server. A run is one transaction on one connection; rows go in through
 * `COPY … FROM STDIN`; one run per dataset at a time (an advisory lock). Readers see
 * the last committed load throughout a run, and a killed run's transaction is
 * discarded by the server when its connection drops.
 *
 * The driver is postgres.js (`npm:postgres`): pure JavaScript (no native build, runs
 * under Deno), maintained, and it streams `COPY` both ways.
 *
 * @module
 */
import postgres from "postgres";
import { type CheckpointStore, PostgresCheckpointStore } from "../run/checkpoint.ts";
import { Readable } from "node:stream";
import net from "node:net";
import { pipeline } from "node:stream/promises";
import { quoteIdent as q } from "../normalize/naming.ts";
import type { Row } from "../normalize/normalize.ts";
import type { QueryResult } from "./destination.ts";
import { SqlDestination, type SqlSession } from "./sql.ts";
import { DatabaseLockedError } from "./lock.ts";
import { stringifyJson } from "../core/json.ts";

/** The two keys of a dataset's advisory lock: a constant, and the dataset's hash. */
const LOCK_CLASS = 0x7265; // "re"

/** Rows per `COPY` chunk written to the socket. */
const COPY_CHUNK = 1000;

/**
 * postgres.js's `socket` option (which its types leave out) for connections with
 * Nagle's algorithm off: with it on, every `COPY` waits ~40 ms for a delayed ACK.
 */
export function noDelaySocket(
  o: { host: string[]; port: number[]; path?: string },
): Promise<net.Socket> {
  return connectNoDelay(o.host[0], o.port[0], o.path);
}

/** A TCP connection with Nagle's algorithm off (postgres.js takes it as its socket). */
function connectNoDelay(host: string, port: number, path?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = path ? net.connect({ path }) : net.connect({ host, port });
    socket.setNoDelay(true);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Is this the error of a connection that closed (the server ended it, the network broke)? */
function isConnectionLoss(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" &&
    (code.startsWith("CONNECTION_") || code === "ECONNRESET" || code === "EPIPE" ||
      code.startsWith("57P")); // admin_shutdown, crash_shutdown, cannot_connect_now …
}

/** A connection URL with its password replaced by `***`. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgresql://(unparsable URL)";
  }
}

/**
 * Query options that keep postgres.js on the extended protocol even without parameters
 * (`simple` is an option of its `unsafe` that its types leave out).
 */
const ONE_STATEMENT = { simple: false } as postgres.UnsafeQueryOptions;

/** A PostgreSQL server holding datasets. */
export class PostgresDestination extends SqlDestination {
  /** Where the data goes (the URL without its password). */
  readonly description: string;
  /** Larger COPY batches: fewer statements, and the server parses while we normalise. */
  override readonly batchRows: number | undefined = 50_000;
  /** The connection every statement goes through. */
  protected readonly session: SqlSession;
  readonly #sql: postgres.Sql;
  #locked: string | undefined;
  /** Set when the connection closed while a run held it: nothing more may be sent. */
  #lost: Error | undefined;

  readonly #url: string;

  /** A checkpoint in the server (schema `restpipe_checkpoint`), on a connection of its own. */
  checkpointStore(dataset: string): CheckpointStore {
    return new PostgresCheckpointStore(this.#url, dataset);
  }

  private constructor(sql: postgres.Sql, url: string) {
    super();
    this.#sql = sql;
    this.#url = url;
    this.description = describeUrl(url);
    this.session = {
      query: async <T>(text: string, params: unknown[] = []): Promise<QueryResult<T>> => {
        this.#stillConnected();
        // always the extended protocol, which takes one statement: without parameters
        // postgres.js would send the text as a simple query, where "commit; delete …"
        // ends the read-only transaction and runs the delete
        const r = await sql.unsafe(
          text,
          params as postgres.ParameterOrJSON<never>[],
          ONE_STATEMENT,
        );
        return {
          rows: [...r] as T[],
          fields: (r.columns ?? []).map((c) => ({ name: c.name })),
          affectedRows: r.count,
        };
      },
      exec: async (text: string) => {
        this.#stillConnected();
        await sql.unsafe(text).simple();
      },
    };
  }

  /**
   * Throws once the run's connection has closed. postgres.js would open a new one for
   * the next statement, outside the run's transaction and without the dataset's lock:
   * rows written there would be committed one by one, and the load record with them.
   */
  #stillConnected(): void {
    if (this.#lost) throw this.#lost;
  }

  /** The run's transaction and the dataset's lock went with the lost connection. */
  #forgetLostConnection(): void {
    this.#lost = undefined;
    this.#locked = undefined;
  }

  /** The connection closed (the server ended it, the network dropped it …). */
  #connectionClosed(): void {
    if (this.#locked === undefined) return;
    this.#lost ??= new Error(
      `the connection to ${this.description} closed during the run: ` +
        `its transaction is gone, and nothing of this run was committed`,
    );
  }

  /**
   * Connects to `url` (`postgresql://user:password@host:port/db?sslmode=…`); `purpose`
   * names this connection to the server (`application_name`), and so to another run
   * that finds the dataset held.
   */
  static async open(url: string, purpose = "run"): Promise<PostgresDestination> {
    const closed: { notify?: () => void } = {};
    const sql = postgres(
      url,
      Object.assign({
        max: 1,
        // one connection for as long as a run takes: its transaction and the dataset's
        // lock live on it (postgres.js would replace it after 30 to 60 minutes); 0: never
        max_lifetime: 0,
        idle_timeout: 0,
        onclose: () => closed.notify?.(),
        onnotice: () => {},
        connection: { application_name: `restpipe ${purpose}`.slice(0, 63) },
      }, { socket: noDelaySocket }),
    );
    try {
      await sql`select 1`;
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw new Error(
        `cannot connect to ${describeUrl(url)}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    const dest = new PostgresDestination(sql, url);
    closed.notify = () => dest.#connectionClosed();
    return dest;
  }

  /** Records a failed run; after a lost connection, on a new one (the lock went with it). */
  override async recordFailure(
    pipeline: string,
    dataset: string,
    loadId: string,
    startedAt: Date,
    error: string,
  ): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        return await super.recordFailure(pipeline, dataset, loadId, startedAt, error);
      } catch (e) {
        if (attempt === 3 || (!this.#lost && !isConnectionLoss(e))) throw e;
        // record it on a new connection (the old one may still be delivering its last error)
        this.#forgetLostConnection();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Takes the dataset's advisory lock, or says who holds it. */
  protected async lock(dataset: string, purpose: string): Promise<void> {
    const r = await this.session.query<{ ok: boolean }>(
      `select pg_try_advisory_lock(${LOCK_CLASS}, hashtext($1)) as ok`,
      [dataset],
    );
    if (r.rows[0].ok) {
      this.#locked = dataset;
      return;
    }
    const holder = await this.session.query<
      { pid: number; application_name: string; backend_start: Date }
    >(
      `select a.pid, a.application_name, a.backend_start from pg_locks l
       join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and l.granted and l.classid = ${LOCK_CLASS}
         and l.objid::bigint = (hashtext($1)::bigint & 4294967295)`,
      [dataset],
    );
    const h = holder.rows[0];
    throw new DatabaseLockedError(
      `dataset ${dataset} on ${this.description}`,
      h
        ? {
          pid: Number(h.pid),
          purpose: h.application_name.replace(/^restpipe /, ""),
          since: new Date(h.backend_start).toISOString(),
        }
        : undefined,
      purpose,
    );
  }

  /** Releases the dataset's advisory lock. */
  protected async unlock(): Promise<void> {
    if (this.#lost) return this.#forgetLostConnection();
    if (this.#locked === undefined) return;
    const dataset = this.#locked;
    this.#locked = undefined;
    await this.session.query(`select pg_advisory_unlock(${LOCK_CLASS}, hashtext($1))`, [dataset]);
  }

  /** Closes the connection (the server rolls back an open run and drops its lock). */
  protected async disconnect(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }

  /** `COPY … FROM STDIN` in text format, streamed in chunks. */
  protected async writeRows(
    dataset: string,
    table: string,
    columns: Record<string, { type: string }>,
    rows: Row[],
  ): Promise<void> {
    const used = Object.keys(columns).filter((c) =>
      rows.some((r) => r[c] !== undefined && r[c] !== null)
    );
    if (used.length === 0) return;
    this.#stillConnected();
    const json = used.map((c) => columns[c].type === "jsonb");
    const writable = await this.#sql.unsafe(
      `copy ${q(dataset)}.${q(table)} (${used.map(q).join(", ")}) from stdin`,
    ).writable();
    await pipeline(Readable.from(copyLines(rows, used, json)), writable);
  }
}

/** Rows as lines of `COPY`'s text format, in chunks. */
function* copyLines(rows: Row[], columns: string[], json: boolean[]): Generator<string> {
  let chunk = "";
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    let line = "";
    for (let c = 0; c < columns.length; c++) {
      if (c > 0) line += "\t";
      line += copyValue(row[columns[c]], json[c]);
    }
    chunk += line + "\n";
    if ((i + 1) % COPY_CHUNK === 0) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk !== "") yield chunk;
}

/**
 * One value in `COPY` text format: `\N` for null, backslash escapes for the rest; a
 * jsonb column's value as JSON text (a string included, quoted).
 */
export function copyValue(value: unknown, json = false): string {
  if (value === undefined || value === null) return "\\N";
  let text: string;
  if (json) return escapeCopy(stringifyJson(value));
  switch (typeof value) {
    case "string":
      text = value;
      break;
    case "number":
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "t" : "f";
    default:
      text = stringifyJson(value);
  }
  return escapeCopy(text);
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** Backslash escapes for `COPY` text format (most values need none: checked first). */
function escapeCopy(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(/[\\\t\n\r]/g, escapeChar) : text;
}

function escapeChar(ch: string): string {
  return ch === "\\" ? "\\\\" : ch === "\t" ? "\\t" : ch === "\n" ? "\\n" : "\\r";
}
