/**
 * restpipe: a declarative config runner that moves data out of REST APIs into
 * Postgres (embedded PGlite, or a PostgreSQL server).
 *
 * ```ts
 * import { loadSpec, runPipeline } from "./mod.ts";
 * const { spec } = await loadSpec("pipelines/asana.yaml");
 * const result = await runPipeline(spec, { dbDir: ".data/asana" });
 * console.log(result.tables);
 * ```
 *
 * @module
 */
export { type LoadedSpec, loadSpec, type LoadSpecOptions, parseSpec } from "./src/spec/load.ts";
export { formatIssue, SpecError, type SpecIssue } from "./src/spec/errors.ts";
export * from "./src/spec/schema.ts";
export { buildPlan, type Plan, PlanError, type PlannedResource } from "./src/plan/plan.ts";
export { evaluatePredicate, parsePredicate, type Predicate } from "./src/spec/predicate.ts";
export { checkOpenApi, type OpenApiDocument, type OpenApiIssue } from "./src/spec/openapi.ts";
export { describeCandidates, generateSpec } from "./src/spec/init_openapi.ts";
export { Limiter, type LimiterOptions } from "./src/extract/limiter.ts";
export { HttpClient, HttpError } from "./src/extract/http.ts";
export { Normalizer } from "./src/normalize/normalize.ts";
export { PgliteDestination } from "./src/load/pglite.ts";
export { PostgresDestination } from "./src/load/postgres.ts";
export type { Destination, LoadRecord, QueryResult } from "./src/load/destination.ts";
export { openTarget, resolveTarget, type Target } from "./src/load/open.ts";
export { RunLedger } from "./src/run/ledger.ts";
export {
  defaultDbDir,
  type ResourceSummary,
  RunError,
  type RunOptions,
  runPipeline,
  type RunResult,
} from "./src/pipeline.ts";
export { type DatasetSummary, describeDataset } from "./src/show.ts";
export { type Dashboard, type LiveState, startDashboard } from "./src/web/server.ts";
export { type Overview, readOverview, readTablePage } from "./src/web/data.ts";
