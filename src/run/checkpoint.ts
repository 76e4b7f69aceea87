/**
 * Checkpoints: the API's answers a run received, kept outside its transaction and
 * committed as they arrive (every 200 answers or 2 seconds, and when the run stops), so
 * that a run that fails, is killed or is stopped leaves them behind. The next run of the
 * same spec on the same dataset (no load committed in between) starts from them: a
 * request it makes exactly as the failed run made it is answered from the checkpoint,
 * without asking the API; every other request goes to the API. What the next run
 * publishes is still one transaction, decided from complete evidence only (an answer
 * kept is a whole answer the API gave); a listing restarted after an expired page token
 * asks the API again. A successful commit drops the checkpoint; one older than its
 * allowed age (six hours unless the run says otherwise), or made by another spec, is
 * dropped with a line. A resumed run's answers are as old as its checkpoint: the next
 * run catches up with what changed since, as after any run.
 *
 * Only whole 2xx JSON answers are kept, by a SHA-256 of the request URL (the URL itself,
 * which may carry a key, is never stored), with their body and their headers.
 *
 * @module
 */
import postgres from "postgres";
import type { HttpResponse } from "../extract/http.ts";

/** One kept answer. */
export interface StoredAnswer {
  /** The HTTP status (2xx). */
  status: number;
  /** The response headers, but cookies and credentials. */
  headers: [string, string][];
  /** The body, as JSON text. */
  body: string;
}

/** What a store holds, when it holds a checkpoint. */
export interface CheckpointInfo {
  /** The run key it was made under (spec, dataset state, options). */
  key: string;
  /** When the checkpoint was started. */
  createdAt: Date;
  /** Answers it holds. */
  answers: number;
}

/** Where a dataset's checkpoint is kept: beside the database, outside every run. */
export interface CheckpointStore {
  /** The checkpoint held, if any. */
  describe(): Promise<CheckpointInfo | undefined>;
  /** Starts an empty checkpoint under `key` (dropping any held). */
  start(key: string, now: Date): Promise<void>;
  /** The URL hashes of the answers held (read once, at the start of a run). */
  hashes(): Promise<Set<string>>;
  /** One answer held, by its URL hash. */
  get(hash: string): Promise<StoredAnswer | undefined>;
  /** Adds answers, committed when the promise resolves. */
  put(entries: readonly [string, StoredAnswer][]): Promise<void>;
  /** Drops the checkpoint (after a committed load). */
  clear(): Promise<void>;
  /** Lets go of the store's files or connection. */
  close(): Promise<void>;
}

/** The SHA-256 of a request URL, hex. */
export async function urlHash(url: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(url));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The run key: what must not change for a checkpoint to be reused. */
export async function runKey(parts: unknown): Promise<string> {
  return (await urlHash(JSON.stringify(parts))).slice(0, 32);
}

/** Options of {@linkcode Checkpoint.open}. */
export interface CheckpointOptions {
  /** A checkpoint older than this is dropped (milliseconds). */
  maxAgeMs: number;
  /** Drop any checkpoint held and start afresh (`--no-resume`). */
  fresh?: boolean;
  /** The run's start (default: now). */
  now?: Date;
}

/** A run's side of its checkpoint: answers from the last failed run, and its own kept. */
export class Checkpoint {
  readonly #store: CheckpointStore;
  readonly #answers: Set<string>;
  #pending: [string, StoredAnswer][] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** Answers served from the checkpoint instead of the API. */
  replayed = 0;
  /** Answers the checkpoint held when the run started (0: none reused). */
  readonly resumedFrom: number;
  /** What happened to an earlier checkpoint, in words (undefined: there was none). */
  readonly note: string | undefined;

  private constructor(
    store: CheckpointStore,
    answers: Set<string>,
    note: string | undefined,
  ) {
    this.#store = store;
    this.#answers = answers;
    this.resumedFrom = answers.size;
    this.note = note;
  }

  /** Opens the store's checkpoint for a run under `key`: reused, or dropped and restarted. */
  static async open(
    store: CheckpointStore,
    key: string,
    options: CheckpointOptions,
  ): Promise<Checkpoint> {
    const now = options.now ?? new Date();
    const held = await store.describe();
    let note: string | undefined;
    if (held && held.answers > 0) {
      const age = now.getTime() - held.createdAt.getTime();
      const reason = options.fresh
        ? "--no-resume"
        : held.key !== key
        ? "it was made by another spec, options or load"
        : age > options.maxAgeMs
        ? `it is ${Math.round(age / 60_000)} min old, more than the ${
          Math.round(options.maxAgeMs / 60_000)
        } min allowed`
        : undefined;
      if (reason === undefined) {
        const answers = await store.hashes();
        return new Checkpoint(
          store,
          answers,
          `resumed: ${answers.size} answers of the run that stopped (checkpoint of ${held.createdAt.toISOString()})`,
        );
      }
      note =
        `checkpoint of ${held.createdAt.toISOString()} (${held.answers} answers) discarded: ${reason}`;
    }
    if (!held || held.key !== key || note !== undefined) await store.start(key, now);
    return new Checkpoint(store, new Set(), note);
  }

  /** The kept answer to this request, if the last run received one. */
  async lookup(url: URL): Promise<HttpResponse | undefined> {
    if (this.#answers.size === 0) return undefined;
    const hash = await urlHash(url.toString());
    if (!this.#answers.has(hash)) return undefined;
    const found = await this.#store.get(hash);
    if (!found) return undefined;
    this.replayed++;
    return {
      status: found.status,
      headers: new Headers(found.headers),
      body: JSON.parse(found.body),
      bytes: found.body.length,
    };
  }

  /** Keeps a whole answer; it is committed within 2 seconds (or 200 answers). */
  async record(url: URL, response: HttpResponse): Promise<void> {
    if (response.status < 200 || response.status >= 300) return;
    const hash = await urlHash(url.toString());
    if (this.#answers.has(hash)) return;
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => {
      if (!/^(set-cookie|authorization|cookie)$/i.test(name)) headers.push([name, value]);
    });
    this.#pending.push([hash, {
      status: response.status,
      headers,
      body: JSON.stringify(response.body),
    }]);
    if (this.#pending.length >= 200) this.#flushSoon(0);
    else this.#flushSoon(2000);
  }

  #flushSoon(ms: number): void {
    if (this.#timer !== undefined && ms > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(() => {});
    }, ms);
  }

  /** Commits every answer kept so far. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    this.#writing = this.#writing.then(() => batch.length > 0 ? this.#store.put(batch) : undefined);
    return this.#writing;
  }

  /** The run committed: the checkpoint has served its purpose. */
  async clear(): Promise<void> {
    clearTimeout(this.#timer);
    this.#pending = [];
    await this.#writing.catch(() => {});
    await this.#store.clear();
  }

  /** Commits what is pending and lets go of the store. */
  async close(): Promise<void> {
    await this.flush().catch(() => {});
    await this.#store.close();
  }
}

/** A checkpoint in files beside an embedded database: `meta.json` and `answers.ndjson`. */
export class FileCheckpointStore implements CheckpointStore {
  readonly #dir: string;
  /** A store in the folder `dir` (made when a checkpoint starts). */
  constructor(dir: string) {
    this.#dir = dir;
  }

  async describe(): Promise<CheckpointInfo | undefined> {
    try {
      const meta = JSON.parse(await Deno.readTextFile(`${this.#dir}/meta.json`));
      const answers = (await this.hashes()).size;
      return { key: meta.key, createdAt: new Date(meta.created_at), answers };
    } catch {
      return undefined;
    }
  }

  async start(key: string, now: Date): Promise<void> {
    this.#index.clear();
    this.#scanned = true;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(this.#dir, { recursive: true });
    await Deno.writeTextFile(
      `${this.#dir}/meta.json`,
      JSON.stringify({ key, created_at: now.toISOString() }),
    );
  }

  /** Where each answer's line is in `answers.ndjson`: hash → [offset, length] in bytes. */
  #index = new Map<string, [number, number]>();
  #scanned = false;

  async hashes(): Promise<Set<string>> {
    if (this.#scanned) return new Set(this.#index.keys());
    this.#scanned = true;
    this.#index.clear();
    let file: Deno.FsFile;
    try {
      file = await Deno.open(`${this.#dir}/answers.ndjson`);
    } catch {
      return new Set();
    }
    // each line starts {"h":"<64 hex>": the hash is read without parsing the body
    const buffer = new Uint8Array(1 << 20);
    let offset = 0;
    let lineStart = 0;
    let head = "";
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const n = await file.read(buffer);
        if (n === null) break;
        for (let i = 0; i < n; i++) {
          if (head.length < 80 && offset + i - lineStart < 80) {
            head += decoder.decode(buffer.subarray(i, i + 1));
          }
          if (buffer[i] === 10) {
            const m = /^\{"h":"([0-9a-f]{64})"/.exec(head);
            // a line cut short by a kill has no newline: it is no answer
            if (m) this.#index.set(m[1], [lineStart, offset + i - lineStart]);
            lineStart = offset + i + 1;
            head = "";
          }
        }
        offset += n;
      }
    } finally {
      file.close();
    }
    return new Set(this.#index.keys());
  }

  async get(hash: string): Promise<StoredAnswer | undefined> {
    const at = this.#index.get(hash);
    if (!at) return undefined;
    const file = await Deno.open(`${this.#dir}/answers.ndjson`);
    try {
      await file.seek(at[0], Deno.SeekMode.Start);
      const bytes = new Uint8Array(at[1]);
      let read = 0;
      while (read < bytes.length) {
        const n = await file.read(bytes.subarray(read));
        if (n === null) break;
        read += n;
      }
      const a = JSON.parse(new TextDecoder().decode(bytes));
      return { status: a.s, headers: a.hd, body: a.b };
    } finally {
      file.close();
    }
  }

  async put(entries: readonly [string, StoredAnswer][]): Promise<void> {
    const text = entries.map(([h, a]) =>
      JSON.stringify({ h, s: a.status, hd: a.headers, b: a.body }) + "\n"
    ).join("");
    const file = await Deno.open(`${this.#dir}/answers.ndjson`, { append: true, create: true });
    try {
      await file.write(new TextEncoder().encode(text));
      await file.syncData();
    } finally {
      file.close();
    }
  }

  async clear(): Promise<void> {
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    // the folder of every dataset's checkpoint, once none is left
    await Deno.remove(`${this.#dir}/..`).catch(() => {});
  }

  /** Nothing to let go of: files are opened per write. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The advisory lock that serialises the creation of the checkpoint's schema. */
const SCHEMA_LOCK = [0x7263, 1] as const; // "rc": a class of its own, apart from the datasets' locks

/**
 * A checkpoint in a PostgreSQL server (schema `restpipe_checkpoint`), on a connection
 * of its own: its writes commit while the run's transaction is still open.
 */
export class PostgresCheckpointStore implements CheckpointStore {
  readonly #sql: postgres.Sql;
  readonly #dataset: string;
  #ready: Promise<void> | undefined;

  /** A store for `dataset` in the server at `url`. */
  constructor(url: string, dataset: string) {
    this.#sql = postgres(url, {
      max: 1,
      onnotice: () => {},
      connection: { application_name: "restpipe checkpoint" },
    });
    this.#dataset = dataset;
  }

  #init(): Promise<void> {
    // Runs of other datasets share the schema and may start at the same moment: `if not
    // exists` does not stop two transactions from both creating it (a unique violation in
    // the catalog), so the creation waits for a lock that only it takes.
    return this.#ready ??= this.#sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${SCHEMA_LOCK[0]}, ${SCHEMA_LOCK[1]})`;
      await tx.unsafe(`create schema if not exists restpipe_checkpoint`);
      await tx.unsafe(`create table if not exists restpipe_checkpoint.runs (
        dataset text primary key, key text not null, created_at timestamptz not null)`);
      await tx.unsafe(`create table if not exists restpipe_checkpoint.answers (
        dataset text not null, hash text not null, status int not null, headers text not null,
        body text not null, primary key (dataset, hash))`);
    }).then(() => {});
  }

  async describe(): Promise<CheckpointInfo | undefined> {
    await this.#init();
    const [run] = await this.#sql`select key, created_at from restpipe_checkpoint.runs
      where dataset = ${this.#dataset}`;
    if (!run) return undefined;
    const [n] = await this.#sql`select count(*)::int as n from restpipe_checkpoint.answers
      where dataset = ${this.#dataset}`;
    return { key: run.key, createdAt: new Date(run.created_at), answers: n.n };
  }

  async start(key: string, now: Date): Promise<void> {
    await this.#init();
    await this.#sql.begin(async (tx) => {
      await tx`delete from restpipe_checkpoint.answers where dataset = ${this.#dataset}`;
      await tx`insert into restpipe_checkpoint.runs (dataset, key, created_at)
        values (${this.#dataset}, ${key}, ${now})
        on conflict (dataset) do update set key = excluded.key, created_at = excluded.created_at`;
    });
  }

  async hashes(): Promise<Set<string>> {
    await this.#init();
    const rows = await this.#sql`select hash from restpipe_checkpoint.answers
      where dataset = ${this.#dataset}`;
    return new Set(rows.map((r) => r.hash as string));
  }

  async get(hash: string): Promise<StoredAnswer | undefined> {
    const [r] = await this.#sql`select status, headers, body from restpipe_checkpoint.answers
      where dataset = ${this.#dataset} and hash = ${hash}`;
    return r ? { status: r.status, headers: JSON.parse(r.headers), body: r.body } : undefined;
  }

  async put(entries: readonly [string, StoredAnswer][]): Promise<void> {
    await this.#init();
    const rows = entries.map(([hash, a]) => ({
      dataset: this.#dataset,
      hash,
      status: a.status,
      headers: JSON.stringify(a.headers),
      body: a.body,
    }));
    await this.#sql`insert into restpipe_checkpoint.answers ${
      this.#sql(rows, "dataset", "hash", "status", "headers", "body")
    } on conflict do nothing`;
  }

  async clear(): Promise<void> {
    await this.#init();
    await this.#sql.begin(async (tx) => {
      await tx`delete from restpipe_checkpoint.answers where dataset = ${this.#dataset}`;
      await tx`delete from restpipe_checkpoint.runs where dataset = ${this.#dataset}`;
    });
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 2 });
  }
}
