/**
 * restpipe: a declarative config runner that moves data out of REST APIs into
 * Postgres (embedded PGlite, or a PostgreSQL server). A YAML spec declares the
 * resources; {@linkcode loadSpec} reads and validates it, {@linkcode runPipeline} loads
 * it in one transaction, {@linkcode describeDataset} summarises what was loaded.
 *
 * @example
 * ```ts ignore
 * import { loadSpec, runPipeline } from "./mod.ts";
 * const { spec } = await loadSpec("pipelines/asana.yaml");
 * const result = await runPipeline(spec, { dbDir: ".data/asana" });
 * console.log(result.tables);
 * ```
 *
 * @module
 */

// the spec language
export { type LoadedSpec, loadSpec, type LoadSpecOptions, parseSpec } from "./src/spec/load.ts";
export { formatIssue, type KeyPath, SpecError, type SpecIssue } from "./src/spec/errors.ts";
export {
  type Auth,
  COLUMN_TYPES,
  type ColumnType,
  type Incremental,
  type Paginator,
  type ResourceSpec,
  type Source,
  type Spec,
  type StatusRules,
  WRITE_DISPOSITIONS,
  type WriteDisposition,
} from "./src/spec/schema.ts";
export type { MissingVariable, ResolvedVariable } from "./src/spec/interpolate.ts";
export {
  type CompareOp,
  evaluatePredicate,
  type Literal,
  parsePredicate,
  type Predicate,
} from "./src/spec/predicate.ts";
export { checkOpenApi, type OpenApiDocument, type OpenApiIssue } from "./src/spec/openapi.ts";
export { describeCandidates, generateSpec, type InitOptions } from "./src/spec/init_openapi.ts";
export {
  type PageCursor,
  type PageResponse,
  PAGINATORS,
  type PaginatorType,
} from "./src/connect/paginators/mod.ts";
export { AUTH_TYPES, type AuthType } from "./src/connect/auth/mod.ts";
export { type ExitCode, RestpipeError, type RestpipeErrorOptions } from "./src/core/errors.ts";

// the plan
export {
  buildPlan,
  type ColumnHint,
  type ColumnHints,
  type ForEach,
  forEachOf,
  hasFeed,
  type ParamValue,
  type Plan,
  PlanError,
  type PlannedChanges,
  type PlannedResource,
} from "./src/plan/plan.ts";

// extraction
export {
  type Clock,
  Limiter,
  type LimiterOptions,
  type LimiterSnapshot,
  type Release,
} from "./src/extract/limiter.ts";
export {
  HttpClient,
  HttpError,
  type HttpResponse,
  type HttpStats,
  type RequestContext,
} from "./src/extract/http.ts";
export type { JsonRepairs } from "./src/core/json.ts";
export type {
  ApiRecord,
  ChainPosition,
  FeedTracker,
  Focus,
  FocusNeed,
  KeyListingTracker,
  ListingTracker,
  RunObserver,
} from "./src/extract/observer.ts";

// normalising and loading
export { Normalizer, type Row, type TableRows } from "./src/normalize/normalize.ts";
export type { StoredSchema } from "./src/normalize/schema.ts";
export { PgliteDestination } from "./src/load/pglite.ts";
export { PostgresDestination } from "./src/load/postgres.ts";
export { SqlDestination, type SqlSession } from "./src/load/sql.ts";
export type {
  CommitCounts,
  CommitJob,
  Destination,
  LoadRecord,
  QueryResult,
  ResourceFigures,
  RootWrite,
  ViewDefinition,
} from "./src/load/destination.ts";
export { openTarget, resolveTarget, type Target } from "./src/load/open.ts";

// the run
export { RunLedger } from "./src/run/ledger.ts";
export {
  Checkpoint,
  type CheckpointInfo,
  type CheckpointOptions,
  type CheckpointStore,
  FileCheckpointStore,
  PostgresCheckpointStore,
  type StoredAnswer,
} from "./src/run/checkpoint.ts";
export { IncrementalRun, type IncrementalRunOptions } from "./src/run/incremental.ts";
export type { Boundaries, Cursors, StoredState } from "./src/run/state.ts";
export type { StoredLink, StoredOwner, StoredParents, Watched } from "./src/run/watch.ts";
export {
  type Candidate,
  GONE_STATUSES,
  type Verified,
  verifyDeletions,
} from "./src/extract/verify.ts";
export {
  type FeedFigures,
  Feeds,
  keysNamed,
  recordsUnder,
  type StoredFeeds,
} from "./src/run/feeds.ts";
export {
  defaultDbDir,
  type Progress,
  type ResourceSummary,
  RunError,
  type RunOptions,
  runPipeline,
  type RunResult,
} from "./src/pipeline.ts";

// what was loaded
export { type DatasetSummary, describeDataset, type TableSummary } from "./src/show.ts";
export {
  type Dashboard,
  type DashboardOptions,
  type LiveState,
  startDashboard,
} from "./src/web/server.ts";
export {
  type DatasetView,
  type FleetRun,
  type GraphNode,
  type Overview,
  readFleetRuns,
  readOverview,
  readTablePage,
  type TablePage,
} from "./src/web/data.ts";

// the validators the types above are inferred from (hidden from the docs: the spec
// language is documented in docs/spec.md, its JSON Schema in docs/spec.schema.json)
export {
  ColumnTypeSchema,
  IncrementalSchema,
  ResourceSchema,
  SpecSchema,
  StatusRulesSchema,
  WriteDispositionSchema,
} from "./src/spec/schema.ts";
export { PaginatorSchema } from "./src/connect/paginators/mod.ts";
export { AuthSchema } from "./src/connect/auth/mod.ts";
export { BoundariesSchema, CursorsSchema, StoredStateSchema } from "./src/run/state.ts";
export { StoredSchemaSchema, type TableSchema, TableSchemaSchema } from "./src/normalize/schema.ts";
