/**
 * Runs a pipeline: plan → extract → normalize → stage → one commit. Each step is a
 * small function over the run's {@linkcode RunContext}; what a run means for the
 * incremental state lives in `src/run/`, what the commit deletes in `src/load/`.
 *
 * @module
 */
import { EXIT, isTransient } from "./core/exit.ts";
import { recordWindow, telemetryEnabled, withRunSpan } from "./core/telemetry.ts";
import { Checkpoint, runKey } from "./run/checkpoint.ts";
import { VERSION } from "./core/version.ts";
import { RestpipeError } from "./core/errors.ts";
import { extract, type ResourceStats } from "./extract/extract.ts";
import { HttpClient } from "./extract/http.ts";
import type { LimiterSnapshot } from "./extract/limiter.ts";
import { PgliteDestination } from "./load/pglite.ts";
import type { Destination, ResourceFigures, RootWrite } from "./load/destination.ts";
import { DEFAULT_FLUSH_ROWS, StagingBuffer } from "./load/staging.ts";
import { Normalizer } from "./normalize/normalize.ts";
import { emptySchema } from "./normalize/schema.ts";
import { buildPlan, type Plan, type PlannedResource } from "./plan/plan.ts";
import type { IncrementalRun } from "./run/incremental.ts";
import { openIncrementalRun } from "./run/open.ts";
import { readStoredKeys, readStoredParents } from "./run/watch.ts";
import { type Verified, verifyDeletions } from "./extract/verify.ts";
import type { FeedFigures } from "./run/feeds.ts";
import type { Spec } from "./spec/schema.ts";

export { DEFAULT_FLUSH_ROWS, StagingBuffer } from "./load/staging.ts";

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
  /** Where the spec's base URL came from, for messages (`${ASANA_BASE_URL} in the environment`). */
  baseUrlFrom?: string;
  /** Aborts the run (Ctrl-C): nothing is committed. */
  signal?: AbortSignal;
  /** Names this run to another command that finds the database held (default "run"). */
  purpose?: string;
  /**
   * The run's clock: refresh clocks and change feeds compare with it, and it names the
   * load (default: now). A simulation of a day of runs passes its own.
   */
  now?: Date;
  /**
   * Start from the last failed run's checkpoint when there is one (default true); false
   * drops it (`--no-resume`).
   */
  resume?: boolean;
  /** A checkpoint older than this (milliseconds) is dropped (default a day). */
  checkpointMaxAgeMs?: number;
  /** Told once what became of an earlier checkpoint (resumed, or discarded and why). */
  onNote?: (note: string) => void;
}

/** How far a run has got. */
export interface Progress {
  /** Seconds since the run started. */
  seconds: number;
  /** Requests sent so far, retries included. */
  requests: number;
  /** Requests sent again after a failure. */
  retries: number;
  /** Answers that were 429. */
  throttled: number;
  /** The configured requests-per-minute limit, if any. */
  requestsPerMinute: number | undefined;
  /** The rate window now: its use, and what waiting requests wait for. */
  window: LimiterSnapshot;
  /** A retry being waited for: why, which resource, which attempt, in how many seconds. */
  retrying?: {
    resource: string;
    reason: string;
    attempt: number;
    attempts: number;
    inSeconds: number;
  };
  /** Each resource so far: rows received, pages, requests, chains, retries and 429s. */
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
  /** The resource. */
  resource: string;
  /** The root table it fills. */
  table: string;
  /** Rows the commit wrote to the resource's table (records received, when it is not loaded). */
  rows: number;
  /** Records received (a task listed by two projects arrives twice, and is one row). */
  received: number;
  /** Requests made for it. */
  requests: number;
  /** Seconds from its first request to its last response. */
  seconds: number;
  /** Were its rows written (false: fetched only for its children)? */
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
  /** The parent resources those listings sit under (empty for a root resource). */
  deferredUnder: string[];
  /** Records listed again at their cursor, unchanged: no child request was made for them. */
  unchanged: number;
  /**
   * Records listed again whole: a `reconcile.watch` value differed from their stored row,
   * or a key listing showed a key the table lacked.
   */
  watched: number;
  /** Parent records that lack the `for_each` list: no request, nothing deleted below them. */
  missingForEach: number;
  /** The `for_each` placeholder, when the list comes from a record. */
  forEach: string | undefined;
  /** True when some listing was skipped or capped: rows it would have covered were kept. */
  incomplete: boolean;
  /** Records the commit deleted from its table (the API no longer lists them; none left). */
  deleted: number;
  /** New to this database: loaded over its parents' existing records, not only the changed. */
  backfilled: boolean;
  /** What its change feeds did (`changes:`), when it declares one. */
  feed?: FeedFigures;
  /**
   * Records no listing returned, asked for by key before deletion (`reconcile.verify`):
   * how many, how many the API said are gone (deleted), still there, or unanswered.
   */
  verified?: { asked: number } & Omit<Verified, "gone"> & { gone: number };
}

/** The result of a successful run. */
export interface RunResult {
  /** The load's id (dlt's format). */
  loadId: string;
  /** Rows written per table by the commit. */
  tables: Record<string, number>;
  /** What each resource did, in dependency order. */
  resources: ResourceSummary[];
  /** Requests sent, retries included. */
  requests: number;
  /** Requests sent again after a failure. */
  retries: number;
  /** Answers that were 429. */
  throttled: number;
  /** Seconds the run took, commit included. */
  seconds: number;
  /** Characters replaced by U+FFFD (NULs and lone surrogates, which Postgres text cannot hold). */
  replacedCharacters: number;
  /** Values a `columns:` hint could not convert: stored in variant columns instead. */
  unconverted: number;
  /** Resources with tables in the dataset that the spec no longer has (their tables are kept). */
  removed: string[];
  /** The spec's views this load made, in order. */
  views: string[];
  /** The spec's views Postgres refused, with its message: the load committed without them. */
  viewsFailed: { view: string; message: string }[];
  /** Partitions per incremental resource whose cursor this load moved. */
  cursorsMoved?: Record<string, number>;
  /**
   * The checkpoint: what became of the last failed run's (resumed, or discarded and why),
   * and how many answers came from it instead of the API.
   */
  checkpoint?: { note: string | undefined; replayed: number };
}

/**
 * A run that failed: nothing was committed. Its exit code is 75 when the failure is
 * temporary (`isTransient`: no answer, 5xx or 429 left after the retries, the destination's
 * connection lost), 1 otherwise.
 */
export class RunError extends RestpipeError {
  /** Is a later run likely to succeed as it is (exit code 75)? */
  readonly transient: boolean;
  /** What the run had sent when it failed: requests (retries included), retries, 429s. */
  figures: { requests: number; retries: number; throttled: number } | undefined;
  /** Creates the error; `cause` is the original failure. */
  constructor(message: string, options?: ErrorOptions) {
    const transient = isTransient(options?.cause);
    super(message, {
      ...options,
      exitCode: transient ? EXIT.tempfail : EXIT.failed,
      prefix: `run failed${
        transient ? " (temporary: retry later)" : ""
      }; the previous load is intact.\n`,
    });
    this.transient = transient;
  }
}

/** The default database directory of a pipeline. */
export function defaultDbDir(spec: Spec): string {
  return `.data/${spec.pipeline}`;
}

/** A load id in dlt's format: seconds since the epoch, with microseconds. */
export function newLoadId(now = Date.now()): string {
  return (now / 1000).toFixed(6);
}

/** Seconds from a resource's first request to its last response (0 when it made none). */
function secondsOf(s: ResourceStats): number {
  return s.startedAt === 0 ? 0 : Math.max(0, s.finishedAt - s.startedAt) / 1000;
}

/** One run's parts, shared by its steps. */
interface RunContext {
  spec: Spec;
  plan: Plan;
  options: RunOptions;
  client: HttpClient;
  dest: Destination;
  loadId: string;
  started: Date;
  /** `performance.now()` at the start. */
  t0: number;
  normalizer: Normalizer;
  /** The resources whose tables this run writes. */
  loaded: PlannedResource[];
  incremental: IncrementalRun;
  /** Resources with stored tables that the spec no longer has. */
  removed: string[];
  /** What asking for records by key found, per resource that verifies its deletions. */
  verified: Map<string, Verified & { asked: number }>;
  /** Partitions per resource whose incremental cursor the commit moved. */
  cursorsMoved?: Record<string, number>;
}

/** Runs a validated spec end to end and commits its load atomically. */
export function runPipeline(spec: Spec, options: RunOptions = {}): Promise<RunResult> {
  return withRunSpan(
    { pipeline: spec.pipeline, dataset: spec.dataset },
    () => runSpec(spec, options),
  );
}

/**
 * Deno's own tracing (`OTEL_DENO=true`) records every `fetch` with its whole URL, query
 * string included: a spec that puts a secret into its URLs (an API key in the query, a
 * secret in `params` or the base URL) may run with metrics only (`OTEL_DENO_TRACING=false`).
 */
function assertTracingKeepsSecrets(spec: Spec, secrets: readonly string[]): void {
  if (!telemetryEnabled() || Deno.env.get("OTEL_DENO_TRACING") === "false") return;
  const auth = spec.source.auth as { type: string; location?: string };
  const inQuery = auth.type === "api_key" && auth.location === "query";
  const urls = JSON.stringify([
    spec.source.base_url,
    spec.source.params,
    Object.values(spec.resources).map((r) => [r.path, r.params]),
  ]);
  if (inQuery || secrets.some((x) => x.length >= 4 && urls.includes(x))) {
    throw new RestpipeError(
      "OTEL_DENO=true: Deno traces every request with its whole URL, and this spec puts a " +
        "secret into its URLs (an API key in the query string, or a secret in params or " +
        "base_url); set OTEL_DENO_TRACING=false to export metrics only",
      { exitCode: 2 },
    );
  }
}

/** The run itself (see {@linkcode runPipeline}). */
async function runSpec(spec: Spec, options: RunOptions): Promise<RunResult> {
  assertTracingKeepsSecrets(spec, options.secrets ?? []);
  const started = options.now ?? new Date();
  const t0 = performance.now();
  const plan = buildPlan(spec, options.resources);
  const client = new HttpClient(spec.source, {
    secrets: options.secrets,
    signal: options.signal,
    baseUrlFrom: options.baseUrlFrom,
  });
  const dest = options.destination ??
    await PgliteDestination.open(options.dbDir ?? defaultDbDir(spec), options.purpose);
  let checkpoint: Checkpoint | undefined;
  try {
    const run = await prepare({ spec, plan, options, client, dest, started, t0 });
    checkpoint = await openCheckpoint(spec, options, dest);
    client.useCheckpoint(checkpoint);
    if (checkpoint?.note) options.onNote?.(checkpoint.note);
    await dest.begin(spec.dataset, run.normalizer.schema, options.purpose ?? "run");
    let stats: Map<string, ResourceStats>;
    let tables: Record<string, number>;
    const deleted = new Map<string, number>();
    const viewsFailed: RunResult["viewsFailed"] = [];
    try {
      stats = await extractRows(run);
      options.signal?.throwIfAborted();
      await verifyGone(run);
      options.signal?.throwIfAborted();
      tables = await commitRun(run, stats, deleted, viewsFailed);
    } catch (e) {
      // what the run received stays for the next run
      await checkpoint?.close().catch(() => {});
      checkpoint = undefined;
      const message = client.redact(e instanceof Error ? e.message : String(e));
      await dest.recordFailure(spec.pipeline, spec.dataset, run.loadId, started, message);
      const failure = new RunError(message, { cause: e });
      const { requests, retries, throttled } = client.stats;
      failure.figures = { requests, retries, throttled };
      throw failure;
    }
    const replayed = checkpoint?.replayed ?? 0;
    await checkpoint?.clear();
    return {
      ...resultOf(run, stats, tables, deleted),
      ...viewsOf(spec, viewsFailed),
      checkpoint: { note: checkpoint?.note, replayed },
      cursorsMoved: run.cursorsMoved ?? {},
    };
  } finally {
    await checkpoint?.close().catch(() => {});
    if (!options.destination) await dest.close();
  }
}

/**
 * Six hours: checkpoints older than this are dropped. A resumed run's answers are as old
 * as the checkpoint; the next run catches up with what changed since.
 */
export const DEFAULT_CHECKPOINT_AGE_MS = 6 * 3600_000;

/**
 * The run's checkpoint (`run/checkpoint.ts`): the last failed run's, when it was made by
 * the same spec, options and version on the same last load, and is young enough.
 */
async function openCheckpoint(
  spec: Spec,
  options: RunOptions,
  dest: Destination,
): Promise<Checkpoint | undefined> {
  const store = dest.checkpointStore?.(spec.dataset);
  if (!store) return undefined;
  const last = (await dest.loads(spec.dataset, 20)).find((l) => l.status === "completed");
  const key = await runKey([
    VERSION,
    spec,
    options.fullRefresh ?? false,
    [...(options.resources ?? [])].sort(),
    last?.load_id ?? null,
  ]);
  return await Checkpoint.open(store, key, {
    maxAgeMs: options.checkpointMaxAgeMs ?? DEFAULT_CHECKPOINT_AGE_MS,
    fresh: options.resume === false,
    now: options.now,
  });
}

/** Reads what the run starts from: the stored schema, the state and the watched values. */
async function prepare(
  base: Omit<
    RunContext,
    "loadId" | "normalizer" | "loaded" | "incremental" | "removed" | "verified"
  >,
): Promise<RunContext> {
  const { spec, plan, options, dest, started } = base;
  const loadId = newLoadId(started.getTime());
  const opened = await openIncrementalRun(dest, spec.dataset, plan, {
    fullRefresh: options.fullRefresh,
    now: started,
  });
  const incremental = opened.incremental;
  const changed = incremental.changedShapes();
  if (changed.length > 0) {
    throw new RestpipeError(
      changed.map((c) => `${c.resource}: ${c.change} since its rows were loaded`).join("\n") +
        `\nthe stored rows do not fit the spec's new ${
          changed.length === 1 ? "setting" : "settings"
        }; rebuild ${changed.length === 1 ? "that table" : "those tables"} with ` +
        `--full-refresh --resources ${changed.map((c) => c.resource).join(",")}, ` +
        `or put the old setting back`,
      { exitCode: 2 },
    );
  }
  const normalizer = new Normalizer(opened.schema ?? emptySchema(), loadId);
  const removed = [
    ...new Set(Object.values(opened.schema?.tables ?? {}).map((t) => t.resource)),
  ].filter((name) => !Object.hasOwn(spec.resources, name)).sort();
  const loaded = [...plan.resources.values()].filter((r) => r.load);
  for (const r of loaded) normalizer.rootTable(r);
  if (!options.fullRefresh) {
    // the stored keys of the reconciled resources, in one read of each table
    const stored = await readStoredKeys(
      dest,
      spec.dataset,
      normalizer,
      loaded,
      (r) => incremental.loadedBefore(r),
    );
    incremental.useWatched(stored.watched);
    incremental.useOwners(stored.owners);
    if (loaded.some((r) => r.changes)) {
      incremental.useStoredParents(
        await readStoredParents(
          dest,
          spec.dataset,
          normalizer,
          plan,
          loaded,
          new Set(Object.keys(opened.schema?.tables ?? {})),
        ),
      );
    }
  }
  return { ...base, loadId, normalizer, loaded, incremental, removed, verified: new Map() };
}

/** The retry a run waits for now, if any (from the client's last retry). */
function retryingOf(client: HttpClient): Progress["retrying"] {
  const r = client.stats.lastRetry;
  if (!r) return undefined;
  const inSeconds = (r.at - performance.now()) / 1000;
  if (inSeconds < -1) return undefined;
  return {
    resource: r.resource,
    reason: client.redact(r.reason),
    attempt: r.attempt,
    attempts: r.attempts,
    inSeconds: Math.max(0, inSeconds),
  };
}

/** A progress snapshot: the client's counters and each resource's live stats. */
function snapshot(run: RunContext, live: ReadonlyMap<string, ResourceStats> | undefined): Progress {
  const { client, plan, spec } = run;
  const window = client.window();
  recordWindow(window.inWindow, window.quota);
  return {
    seconds: (performance.now() - run.t0) / 1000,
    requests: client.stats.requests,
    retries: client.stats.retries,
    throttled: client.stats.throttled,
    requestsPerMinute: spec.source.limits.requests_per_minute,
    window,
    retrying: retryingOf(client),
    resources: plan.order.map((name) => ({
      resource: name,
      rows: live?.get(name)?.rows ?? 0,
      pages: live?.get(name)?.pages ?? 0,
      requests: client.stats.byResource.get(name) ?? 0,
      chains: live?.get(name)?.chains ?? 0,
      retries: client.stats.retriesByResource.get(name) ?? 0,
      throttled: client.stats.throttledByResource.get(name) ?? 0,
    })),
  };
}

/** Extracts every resource into the open run's tables, reporting progress as it goes. */
async function extractRows(run: RunContext): Promise<Map<string, ResourceStats>> {
  const { spec, plan, options, dest } = run;
  const buffer = new StagingBuffer(
    dest,
    run.normalizer,
    options.flushRows ?? dest.batchRows ?? DEFAULT_FLUSH_ROWS,
  );
  let live: ReadonlyMap<string, ResourceStats> | undefined;
  const timer = options.onProgress
    ? setInterval(
      () => options.onProgress!(snapshot(run, live)),
      options.progressIntervalMs ?? 1000,
    )
    : undefined;
  const stats = await extract(
    plan,
    run.client,
    (resource, records, parentKey) => {
      options.signal?.throwIfAborted();
      return buffer.add(resource, records, parentKey);
    },
    run.incremental,
    {
      fieldsParam: spec.source.fields_param,
      // enough waiting chains to keep every request place busy, and no more: each holds
      // its parent's record and its URL (at 256 a 20k-task run peaked 80 MB higher)
      pendingChains: Math.max(64, spec.source.limits.max_in_flight),
      onStart: (s) => live = s,
    },
  ).finally(() => clearInterval(timer));
  // the final figures of the extraction, before the commit
  options.onProgress?.(snapshot(run, stats));
  options.signal?.throwIfAborted();
  await buffer.flush();
  return stats;
}

/**
 * Asks for each stored record that no listing returned by its key, for the resources
 * that verify their deletions: only those the API says are gone are deleted.
 */
async function verifyGone(run: RunContext): Promise<void> {
  for (const r of run.loaded) {
    if (!r.reconcileVerify) continue;
    const candidates = run.incremental.deletionCandidates(r);
    if (candidates.length === 0) continue;
    const found = await verifyDeletions(run.client, r, candidates, {
      fieldsParam: run.spec.source.fields_param,
      concurrency: run.spec.source.limits.max_in_flight,
      signal: run.options.signal,
    });
    run.incremental.verifiedGone(r.name, found.gone);
    run.verified.set(r.name, { ...found, asked: candidates.length });
  }
}

/**
 * Applies every disposition from the run's evidence, with the next state, in one commit;
 * `deleted` receives the number of records deleted per root table.
 */
function commitRun(
  run: RunContext,
  stats: ReadonlyMap<string, ResourceStats>,
  deleted: Map<string, number>,
  viewsFailed: RunResult["viewsFailed"],
): Promise<Record<string, number>> {
  const { spec, plan, normalizer, incremental } = run;
  const roots: RootWrite[] = run.loaded.map((r) => ({
    table: normalizer.rootTable(r),
    resource: r.name,
    disposition: r.writeDisposition,
    keyColumns: normalizer.keyColumns(r),
    retireAbsent: r.writeDisposition === "scd2" && !r.incremental,
    parentTables: r.parents.map((p) => plan.resources.get(p)!).filter((p) => p.load)
      .map((p) => normalizer.rootTable(p)),
    ...incremental.writesFor(r),
  }));
  const deletedOf = (deleted: ReadonlyMap<string, ReadonlySet<string>>) => (parent: string) =>
    deleted.get(normalizer.rootTable(plan.resources.get(parent)!)) ?? new Set<string>();
  return run.dest.commit({
    pipeline: spec.pipeline,
    dataset: spec.dataset,
    loadId: run.loadId,
    startedAt: run.started,
    schema: normalizer.schema,
    roots,
    state: (gone) => {
      for (const [table, keys] of gone) deleted.set(table, keys.size);
      const next = incremental.nextState(deletedOf(gone));
      run.cursorsMoved = incremental.cursorsMoved(next);
      return next;
    },
    rowIdPrefix: normalizer.idPrefix,
    fullRefresh: run.options.fullRefresh,
    views: Object.entries(spec.views ?? {}).map(([name, sql]) => ({ name, sql })),
    viewFailed: (view, message) => viewsFailed.push({ view, message }),
    resources: Object.fromEntries(
      plan.order.map((name) => [name, figuresOf(run, name, stats.get(name)!)]),
    ),
  });
}

/** The views a load made, and those Postgres refused. */
function viewsOf(
  spec: Spec,
  viewsFailed: RunResult["viewsFailed"],
): Pick<RunResult, "views" | "viewsFailed"> {
  const failed = new Set(viewsFailed.map((f) => f.view));
  return {
    views: Object.keys(spec.views ?? {}).filter((v) => !failed.has(v)),
    viewsFailed,
  };
}

/** What a resource extracted, as the load record keeps it for later plans. */
function figuresOf(run: RunContext, name: string, s: ResourceStats): ResourceFigures {
  const r = run.plan.resources.get(name)!;
  return {
    rows: s.rows,
    requests: run.client.stats.byResource.get(name) ?? 0,
    chains: s.chains,
    seconds: secondsOf(s),
    parents: r.parents,
    table: run.normalizer.rootTable(r),
    loaded: r.load,
  };
}

/** The summary's figures of a resource's verified deletions. */
function verifiedOf(v: (Verified & { asked: number }) | undefined): ResourceSummary["verified"] {
  return v && { asked: v.asked, gone: v.gone.length, kept: v.kept, unanswered: v.unanswered };
}

/** The run's result: rows per table, and what each resource did. */
function resultOf(
  run: RunContext,
  stats: ReadonlyMap<string, ResourceStats>,
  tables: Record<string, number>,
  deleted: ReadonlyMap<string, number>,
): Omit<RunResult, "views" | "viewsFailed"> {
  const { client, plan, normalizer } = run;
  const ledger = run.incremental.ledger;
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
      deferredUnder: ledger.deferredUnder(name),
      unchanged: s.unchanged,
      watched: s.watched,
      missingForEach: s.missingForEach,
      forEach: r.forEach && "from" in r.forEach ? r.forEach.from : undefined,
      incomplete: ledger.hasIncompleteChain(name),
      deleted: r.load ? deleted.get(normalizer.rootTable(r)) ?? 0 : 0,
      backfilled: run.incremental.isNew(name),
      feed: r.changes ? run.incremental.feedFigures(name) : undefined,
      verified: verifiedOf(run.verified.get(name)),
    };
  });
  return {
    loadId: run.loadId,
    tables,
    resources,
    requests: client.stats.requests,
    retries: client.stats.retries,
    throttled: client.stats.throttled,
    seconds: (performance.now() - run.t0) / 1000,
    replacedCharacters: client.repairs.replacedCharacters,
    unconverted: normalizer.unconverted,
    removed: run.removed,
  };
}
