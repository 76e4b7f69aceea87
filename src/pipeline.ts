/**
 * Runs a pipeline: plan → extract → normalize → stage → one commit.
 *
 * @module
 */
import { RestpipeError } from "./core/errors.ts";
import { extract, type ResourceStats } from "./extract/extract.ts";
import { boundariesOf, cursorsOf, type RunLedger, stateEntry } from "./run/ledger.ts";
import { HttpClient } from "./extract/http.ts";
import { PgliteDestination } from "./load/pglite.ts";
import type { Destination, RootWrite } from "./load/destination.ts";
import type { Normalizer as NormalizerType, Row, TableRows } from "./normalize/normalize.ts";
import { Normalizer } from "./normalize/normalize.ts";
import { emptySchema } from "./normalize/schema.ts";
import { buildPlan, type PlannedResource } from "./plan/plan.ts";
import { getPath } from "./core/paths.ts";
import { canonicalKey, watchHash } from "./core/keys.ts";
import { quoteIdent } from "./normalize/naming.ts";
import type { Spec } from "./spec/schema.ts";

/** Options for {@linkcode runPipeline}. */
export interface RunOptions {
  /** Database directory; `.data/<pipeline>` by default. */
  dbDir?: string;
  /** Run only these resources (their ancestors are fetched, not loaded). */
  resources?: string[];
  /** An open destination to use instead of opening `dbDir` (it is left open). */
  destination?: Destination;
  /** Rows buffered before they are written (default 20000). */
  flushRows?: number;
  /** Ignore incremental state and rebuild every table from scratch (atomically). */
  fullRefresh?: boolean;
  /** Receives a progress snapshot every `progressIntervalMs` while the run extracts. */
  onProgress?: (progress: Progress) => void;
  /** Milliseconds between progress snapshots (default 1000). */
  progressIntervalMs?: number;
  /** Secret values (from the environment or `.dlt/*.toml`): never shown or stored. */
  secrets?: readonly string[];
  /** Aborts the run (Ctrl-C): nothing is committed. */
  signal?: AbortSignal;
  /** Names this run to another command that finds the database held (default "run"). */
  purpose?: string;
}

/** How far a run has got. */
export interface Progress {
  seconds: number;
  requests: number;
  retries: number;
  throttled: number;
  /** The configured requests-per-minute limit, if any. */
  requestsPerMinute: number | undefined;
  resources: {
    resource: string;
    rows: number;
    pages: number;
    requests: number;
    chains: number;
    retries: number;
    throttled: number;
  }[];
}

/** What one resource did in a run. */
export interface ResourceSummary {
  resource: string;
  table: string;
  /** Rows the commit wrote to the resource's table (records received, when it is not loaded). */
  rows: number;
  /** Records received (a task listed by two projects arrives twice, and is one row). */
  received: number;
  requests: number;
  seconds: number;
  loaded: boolean;
  /** Listings started again after an expired page token. */
  restarts: number;
  /** Requests skipped by a status rule: status, count and the first error. */
  skipped: { status: number; count: number; example: string }[];
  /** Listings stopped at `max_pages`. */
  capped: number;
  /** Records of a recursive resource that were their own ancestor (not followed). */
  cycles: number;
  /** Parent records that needed no request: `when:` said their listing is empty. */
  avoided: number;
  /** Some listings were not due (`refresh_every`): their rows were kept as they were. */
  deferred: boolean;
  /** Records listed again at their cursor, unchanged: no child request was made for them. */
  unchanged: number;
  /** Records listed again whole: a `reconcile.watch` value differed from their stored row. */
  watched: number;
  /** Parent records that lack the `for_each` list: no request, nothing deleted below them. */
  missingForEach: number;
  /** The `for_each` placeholder, when the list comes from a record. */
  forEach: string | undefined;
  /** True when some listing was skipped or capped: rows it would have covered were kept. */
  incomplete: boolean;
}

/** The result of a successful run. */
export interface RunResult {
  loadId: string;
  /** Rows written per table by the commit. */
  tables: Record<string, number>;
  resources: ResourceSummary[];
  requests: number;
  retries: number;
  throttled: number;
  seconds: number;
  /** Characters replaced by U+FFFD (NULs and lone surrogates, which Postgres text cannot hold). */
  replacedCharacters: number;
  /** Values a `columns:` hint could not convert: stored in variant columns instead. */
  unconverted: number;
}

/** A run that failed: nothing was committed. */
export class RunError extends RestpipeError {
  /** Creates the error; `cause` is the original failure. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, {
      ...options,
      exitCode: 1,
      prefix: "run failed; the previous load is intact.\n",
    });
  }
}

/** The default database directory of a pipeline. */
export function defaultDbDir(spec: Spec): string {
  return `.data/${spec.pipeline}`;
}

export { type Cursors, cursorsOf } from "./run/ledger.ts";

/** The key of a resource's listings under one parent resource in the state's `refreshed`. */
function refreshKey(resource: string, parent: string): string {
  return parent === "" ? resource : `${resource} < ${parent}`;
}

/** When each `refresh_every` listing last ran to the end (ISO instants), from the state. */
function refreshesOf(state: Record<string, unknown>): Record<string, string> {
  return stateEntry<Record<string, string>>(state, "refreshed");
}

/** Seconds from a resource's first request to its last response (0 when it made none). */
function secondsOf(s: ResourceStats): number {
  return s.startedAt === 0 ? 0 : Math.max(0, s.finishedAt - s.startedAt) / 1000;
}

/** A load id in dlt's format: seconds since the epoch, with microseconds. */
export function newLoadId(now = Date.now()): string {
  return (now / 1000).toFixed(6);
}

/**
 * The stored values of each resource's `reconcile.watch` fields, as hashes by record key,
 * for resources loaded before whose table holds every watched field as a column (a field
 * new to the spec is compared from the run after the one that stores it).
 */
async function readWatched(
  dest: Destination,
  dataset: string,
  normalizer: NormalizerType,
  loaded: readonly PlannedResource[],
  loadedBefore: (resource: string) => boolean,
): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  for (const r of loaded) {
    if (r.reconcileWatch.length === 0 || !loadedBefore(r.name)) continue;
    const columns = r.reconcileWatch.map((f) => normalizer.storedColumn(r, f));
    if (columns.some((c) => c === undefined)) continue;
    const keys = normalizer.keyColumns(r);
    const select = [...keys, ...columns as string[]].map((c, i) => `${quoteIdent(c)} as c${i}`);
    const hashes = new Map<string, number>();
    await dest.readPages<Record<string, unknown>>(
      `select ${select.join(", ")} from ${quoteIdent(dataset)}.${
        quoteIdent(normalizer.rootTable(r))
      }`,
      10_000,
      // deno-lint-ignore require-await
      async (rows) => {
        for (const row of rows) {
          const values = select.map((_, i) => row[`c${i}`]);
          hashes.set(
            canonicalKey(values.slice(0, keys.length)),
            watchHash(values.slice(keys.length)),
          );
        }
      },
    );
    out.set(r.name, hashes);
  }
  return out;
}

/** Runs a validated spec end to end and commits its load atomically. */
export async function runPipeline(spec: Spec, options: RunOptions = {}): Promise<RunResult> {
  const started = new Date();
  const t0 = performance.now();
  const plan = buildPlan(spec, options.resources);
  const client = new HttpClient(spec.source, { secrets: options.secrets, signal: options.signal });
  const dest = options.destination ??
    await PgliteDestination.open(options.dbDir ?? defaultDbDir(spec), options.purpose);
  const loadId = newLoadId(started.getTime());
  try {
    const schema = (await dest.readSchema(spec.dataset)) ?? emptySchema();
    const previous = await dest.readState(spec.dataset);
    const stored = options.fullRefresh ? {} : cursorsOf(previous);
    const boundaries = options.fullRefresh ? {} : boundariesOf(previous);
    const lastRefresh = refreshesOf(previous);
    const normalizer = new Normalizer(schema, loadId);
    const loaded = [...plan.resources.values()].filter((r) => r.load);
    for (const r of loaded) normalizer.rootTable(r);
    /** Did an earlier load store cursors for this resource? */
    const loadedBefore = (resource: string) => Object.keys(stored[resource] ?? {}).length > 0;
    const watched = options.fullRefresh
      ? new Map<string, Map<string, number>>()
      : await readWatched(dest, spec.dataset, normalizer, loaded, loadedBefore);
    await dest.begin(spec.dataset, normalizer.schema, options.purpose ?? "run");

    const buffer = new StagingBuffer(
      dest,
      normalizer,
      options.flushRows ?? dest.batchRows ?? DEFAULT_FLUSH_ROWS,
    );
    let stats: Map<string, ResourceStats>;
    let ledger: RunLedger;
    let tables: Record<string, number>;
    try {
      let live: Map<string, ResourceStats> | undefined;
      const snapshot = (): Progress => ({
        seconds: (performance.now() - t0) / 1000,
        requests: client.stats.requests,
        retries: client.stats.retries,
        throttled: client.stats.throttled,
        requestsPerMinute: spec.source.limits.requests_per_minute,
        resources: plan.order.map((name) => ({
          resource: name,
          rows: live?.get(name)?.rows ?? 0,
          pages: live?.get(name)?.pages ?? 0,
          requests: client.stats.byResource.get(name) ?? 0,
          chains: live?.get(name)?.chains ?? 0,
          retries: client.stats.retriesByResource.get(name) ?? 0,
          throttled: client.stats.throttledByResource.get(name) ?? 0,
        })),
      });
      const timer = options.onProgress
        ? setInterval(() => options.onProgress!(snapshot()), options.progressIntervalMs ?? 1000)
        : undefined;
      const extracted = await extract(
        plan,
        client,
        (resource, records, parentKey) => {
          options.signal?.throwIfAborted();
          return buffer.add(resource, records, parentKey);
        },
        {
          fieldsParam: spec.source.fields_param,
          // enough waiting chains to keep every request place busy, and no more: each holds
          // its parent's record and its URL (at 256 a 20k-task run peaked 80 MB higher)
          pendingChains: Math.max(64, spec.source.limits.max_in_flight),
          cursor: (resource, partition) => stored[resource]?.[partition],
          loadedBefore,
          boundary: (resource, partition) => boundaries[resource]?.[partition],
          watched: (resource) => watched.get(resource),
          deferred: (resource, parent) => {
            const r = plan.resources.get(resource)!;
            const every = r.refreshEvery.get(parent);
            if (every === undefined || !r.load || options.fullRefresh) return false;
            const last = Date.parse(lastRefresh[refreshKey(resource, parent)] ?? "");
            return !Number.isNaN(last) && started.getTime() - last < every;
          },
          onStart: (result) => live = result.stats,
        },
      ).finally(() => clearInterval(timer));
      // the final figures of the extraction, before the commit
      options.onProgress?.(snapshot());
      stats = extracted.stats;
      ledger = extracted.ledger;
      options.signal?.throwIfAborted();
      await buffer.flush();
      const roots: RootWrite[] = loaded.map((r) => ({
        table: normalizer.rootTable(r),
        resource: r.name,
        disposition: r.writeDisposition,
        keyColumns: normalizer.keyColumns(r),
        retireAbsent: r.writeDisposition === "scd2" && !r.incremental,
        parentTables: r.parents.map((p) => plan.resources.get(p)!).filter((p) => p.load)
          .map((p) => normalizer.rootTable(p)),
        ...extracted.ledger.writesFor(r, options.fullRefresh ?? false),
      }));
      // listings with refresh_every that ran to the end, under parents whose listings did too
      const refreshed = { ...lastRefresh };
      for (const r of loaded) {
        for (const parent of r.refreshEvery.keys()) {
          const ran = !extracted.ledger.isIncomplete(r);
          if (ran) refreshed[refreshKey(r.name, parent)] = started.toISOString();
        }
      }
      const deletedOf = (deleted: ReadonlyMap<string, ReadonlySet<string>>) => (parent: string) =>
        deleted.get(normalizer.rootTable(plan.resources.get(parent)!)) ?? new Set<string>();
      const state = (deleted: ReadonlyMap<string, ReadonlySet<string>>) => ({
        ...previous,
        refreshed,
        incremental: extracted.ledger.nextCursors(stored, deletedOf(deleted)),
        incremental_boundary: extracted.ledger.nextBoundaries(boundaries, deletedOf(deleted)),
      });
      options.signal?.throwIfAborted();
      tables = await dest.commit({
        pipeline: spec.pipeline,
        dataset: spec.dataset,
        loadId,
        startedAt: started,
        schema: normalizer.schema,
        roots,
        state,
        rowIdPrefix: normalizer.idPrefix,
        fullRefresh: options.fullRefresh,
        resources: Object.fromEntries(plan.order.map((name) => {
          const s = extracted.stats.get(name)!;
          const r = plan.resources.get(name)!;
          return [name, {
            rows: s.rows,
            requests: client.stats.byResource.get(name) ?? 0,
            chains: s.chains,
            seconds: secondsOf(s),
            parents: r.parents,
            table: normalizer.rootTable(r),
            loaded: r.load,
          }];
        })),
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await dest.recordFailure(
        spec.pipeline,
        spec.dataset,
        loadId,
        started,
        client.redact(message),
      );
      throw new RunError(client.redact(message), { cause: e });
    }
    const resources: ResourceSummary[] = plan.order.map((name) => {
      const r = plan.resources.get(name)!;
      const s = stats.get(name)!;
      return {
        resource: name,
        table: normalizer.rootTable(r),
        rows: r.load ? tables[normalizer.rootTable(r)] ?? 0 : s.rows,
        received: s.rows,
        requests: client.stats.byResource.get(name) ?? 0,
        seconds: secondsOf(s),
        loaded: r.load,
        restarts: s.restarts,
        skipped: [...s.skipped].map(([status, x]) => ({
          status,
          count: x.count,
          example: client.redact(x.example),
        })),
        capped: s.capped,
        cycles: s.cycles,
        avoided: s.avoided,
        deferred: ledger.wasDeferred(name),
        unchanged: s.unchanged,
        watched: s.watched,
        missingForEach: s.missingForEach,
        forEach: r.forEach && "from" in r.forEach ? r.forEach.from : undefined,
        incomplete: ledger.hasIncompleteChain(name),
      };
    });
    return {
      loadId,
      tables,
      resources,
      requests: client.stats.requests,
      retries: client.stats.retries,
      throttled: client.stats.throttled,
      seconds: (performance.now() - t0) / 1000,
      replacedCharacters: client.repairs.replacedCharacters,
      unconverted: normalizer.unconverted,
    };
  } finally {
    if (!options.destination) await dest.close();
  }
}

/** Rows buffered before a write: bigger batches are cheaper per row in PGlite. */
export const DEFAULT_FLUSH_ROWS = 20_000;

/** Normalises pages and writes their rows in batches (one insert per table per flush). */
export class StagingBuffer {
  readonly #rows: TableRows = new Map();
  #count = 0;
  readonly #dest: Destination;
  readonly #normalizer: NormalizerType;
  readonly #limit: number;
  #writing: Promise<void> = Promise.resolve();

  /** Creates the buffer. */
  constructor(dest: Destination, normalizer: Normalizer, limit: number) {
    this.#dest = dest;
    this.#normalizer = normalizer;
    this.#limit = limit;
  }

  /** Normalises a page (checking primary keys) and flushes when the buffer is full. */
  async add(
    resource: PlannedResource,
    records: Record<string, unknown>[],
    parentKey: string,
  ): Promise<void> {
    if (!resource.load) return;
    if (resource.primaryKey.length > 0 && resource.writeDisposition !== "append") {
      for (const record of records) {
        for (const k of resource.primaryKey) {
          const value = getPath(record, k);
          if (value === undefined || value === null) {
            throw new RunError(
              `${resource.name}: a record has no primary key field "${k}" (keys: ${
                Object.keys(record).slice(0, 8).join(", ")
              }); add it to fields or change primary_key`,
            );
          }
        }
      }
    }
    const before = this.#countRows();
    this.#normalizer.normalize(resource, records, this.#rows, parentKey);
    this.#count += this.#countRows() - before;
    if (this.#count >= this.#limit) {
      // the previous batch must be written first; this one is written while the next
      // pages are normalised (a server destination works in parallel with us)
      await this.#writing;
      this.#writing = this.#write(this.#take());
      this.#writing.catch(() => {}); // awaited (and thrown) by the next flush
    }
  }

  /** The buffered rows, handed over (the buffer starts empty). */
  #take(): [string, Row[]][] {
    const batches: [string, Row[]][] = [...this.#rows.entries()];
    this.#rows.clear();
    this.#count = 0;
    return batches;
  }

  async #write(batches: [string, Row[]][]): Promise<void> {
    for (const [table, rows] of batches) {
      await this.#dest.stage(table, rows, this.#normalizer.schema.tables[table]?.resource);
    }
  }

  #countRows(): number {
    let n = 0;
    for (const rows of this.#rows.values()) n += rows.length;
    return n;
  }

  /** Writes every buffered row (after the batch being written, if any). */
  async flush(): Promise<void> {
    await this.#writing;
    await this.#write(this.#take());
  }
}
