/**
 * The command line: `run`, `plan`, `check`, `show`, `sql` and `serve`.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or config.
 *
 * @module
 */
import { loadSpec } from "../spec/load.ts";
import { SpecError } from "../spec/errors.ts";
import type { Spec } from "../spec/schema.ts";
import { buildPlan, PlanError } from "../plan/plan.ts";
import { estimateRun } from "../plan/estimate.ts";
import { defaultDbDir, RunError, runPipeline } from "../pipeline.ts";
import { PgliteDestination } from "../load/pglite.ts";
import { type DatasetSummary, describeDataset, describeTable } from "../show.ts";
import { type Args, parseArgs, stringFlag, UsageError } from "./args.ts";
import {
  formatCheck,
  formatDataset,
  formatEstimate,
  formatLoads,
  formatRunSummary,
  formatTable,
  formatTableDetail,
} from "./format.ts";
import { ProgressReporter, type Verbosity } from "./progress.ts";

export { parseArgs, UsageError };

const USAGE = `usage:
  restpipe run <spec.yaml> [--db DIR] [--resources a,b] [--full-refresh] [--dry-run]
                           [--quiet | --verbose]
  restpipe plan <spec.yaml> [--db DIR] [--resources a,b] [--json]
  restpipe check <spec.yaml>
  restpipe show [<spec.yaml>] [<table>] [--db DIR] [--loads] [--json]
  restpipe sql "<query>" [--db DIR | --spec <spec.yaml>] [--json]
  restpipe serve [--db DIR | --spec <spec.yaml>] [--host 127.0.0.1] [--port 5432]`;

function resourcesFlag(args: Args): string[] | undefined {
  const value = stringFlag(args, "resources");
  return value === undefined ? undefined : value.split(",").map((s) => s.trim()).filter(Boolean);
}

function oneSpec(args: Args, command: string): string {
  if (args.positional.length !== 1) {
    throw new UsageError(`${command} needs one spec file\n${USAGE}`);
  }
  return args.positional[0];
}

async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    db: "value",
    resources: "value",
    "full-refresh": "flag",
    "dry-run": "flag",
    json: "flag",
    quiet: "flag",
    verbose: "flag",
  });
  if (args.flags.has("dry-run")) return await plan(argv.filter((a) => a !== "--dry-run"));
  if (args.flags.has("json")) throw new UsageError("--json goes with --dry-run (or use plan)");
  if (args.flags.has("quiet") && args.flags.has("verbose")) {
    throw new UsageError("--quiet and --verbose exclude each other");
  }
  const { spec } = await loadSpec(oneSpec(args, "run"));
  const verbosity: Verbosity = args.flags.has("quiet")
    ? "quiet"
    : args.flags.has("verbose")
    ? "verbose"
    : "normal";
  const reporter = new ProgressReporter(verbosity);
  try {
    const result = await runPipeline(spec, {
      dbDir: stringFlag(args, "db") ?? defaultDbDir(spec),
      fullRefresh: args.flags.has("full-refresh"),
      resources: resourcesFlag(args),
      onProgress: verbosity === "quiet" ? undefined : reporter.update,
      progressIntervalMs: Deno.stderr.isTerminal() ? 250 : 1000,
    });
    reporter.done();
    if (verbosity === "quiet") {
      const rows = Object.values(result.tables).reduce((a, b) => a + b, 0);
      console.log(`load ${result.loadId}: ${rows} rows in ${result.seconds.toFixed(1)} s`);
    } else {
      console.log(formatRunSummary(result));
    }
  } finally {
    reporter.done();
  }
  return 0;
}

async function plan(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { db: "value", resources: "value", json: "flag" });
  const { spec } = await loadSpec(oneSpec(args, "plan"), { requireVariables: false });
  const p = buildPlan(spec, resourcesFlag(args));
  const dbDir = stringFlag(args, "db") ?? defaultDbDir(spec);
  let last: Awaited<ReturnType<PgliteDestination["loads"]>>[number] | undefined;
  if (await isDatabase(dbDir)) {
    const dest = await PgliteDestination.open(dbDir);
    try {
      last = (await dest.loads(spec.dataset)).find((l) => l.status === "completed");
    } finally {
      await dest.close();
    }
  }
  const estimate = estimateRun(
    p,
    last?.resources ?? undefined,
    spec.source.limits.requests_per_minute,
  );
  if (args.flags.has("json")) {
    console.log(JSON.stringify({ basedOnLoad: last?.load_id ?? null, ...estimate }, null, 2));
  } else {
    console.log(formatEstimate(spec, estimate, last?.load_id));
  }
  return 0;
}

async function check(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {});
  const file = oneSpec(args, "check");
  const loaded = await loadSpec(file);
  console.log(formatCheck(loaded.file, loaded.spec, buildPlan(loaded.spec), loaded.variables));
  return 0;
}

async function isDatabase(dir: string): Promise<boolean> {
  try {
    await Deno.stat(`${dir}/PG_VERSION`);
    return true;
  } catch {
    return false;
  }
}

async function datasetsIn(dest: PgliteDestination): Promise<string[]> {
  const r = await dest.db.query<{ table_schema: string }>(
    `select table_schema from information_schema.tables where table_name = '_dlt_loads' order by 1`,
  );
  return r.rows.map((x) => x.table_schema);
}

/** The one database under `.data/`, when there is exactly one. */
async function onlyDatabase(): Promise<string> {
  const found: string[] = [];
  try {
    for await (const e of Deno.readDir(".data")) {
      if (e.isDirectory && await isDatabase(`.data/${e.name}`)) found.push(`.data/${e.name}`);
    }
  } catch { /* no .data */ }
  if (found.length === 1) return found[0];
  throw new UsageError(
    found.length === 0
      ? `no database under .data/: run a pipeline first, or name a spec file or --db DIR`
      : `several databases (${found.sort().join(", ")}): name a spec file or --db DIR`,
  );
}

/** Opens the database a command names: --db, a spec's default, or the only one under .data/. */
async function openDatabase(
  args: Args,
  specFile: string | undefined,
): Promise<{ dest: PgliteDestination; dbDir: string; spec: Spec | undefined }> {
  let dbDir = stringFlag(args, "db");
  let spec: Spec | undefined;
  if (specFile !== undefined) {
    spec = (await loadSpec(specFile, { requireVariables: false })).spec;
    dbDir ??= defaultDbDir(spec);
  }
  dbDir ??= await onlyDatabase();
  if (!(await isDatabase(dbDir))) {
    throw new UsageError(`no database at ${dbDir}: run a pipeline first (deno task run <spec>)`);
  }
  return { dest: await PgliteDestination.open(dbDir), dbDir, spec };
}

async function show(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { db: "value", json: "flag", loads: "flag" });
  const specFile = args.positional.find((a) => /\.ya?ml$/.test(a));
  const tables = args.positional.filter((a) => a !== specFile);
  if (tables.length > 1) throw new UsageError(`show takes at most one table\n${USAGE}`);
  const { dest, dbDir, spec } = await openDatabase(args, specFile);
  const json = args.flags.has("json");
  try {
    const datasets = spec ? [spec.dataset] : await datasetsIn(dest);
    if (tables.length === 1) {
      for (const ds of datasets) {
        const detail = await describeTable(dest, ds, tables[0]);
        if (detail) {
          console.log(json ? JSON.stringify(detail, null, 2) : formatTableDetail(detail));
          return 0;
        }
      }
      throw new UsageError(`no table "${tables[0]}" in ${datasets.join(", ") || dbDir}`);
    }
    const summaries: DatasetSummary[] = [];
    for (const ds of datasets) summaries.push(await describeDataset(dest, ds));
    if (json) {
      console.log(JSON.stringify(spec ? summaries[0] : { datasets: summaries }, null, 2));
    } else if (summaries.length === 0) {
      console.log(`no datasets in ${dbDir}`);
    } else if (args.flags.has("loads")) {
      console.log(summaries.map(formatLoads).join("\n\n"));
    } else {
      console.log(summaries.map(formatDataset).join("\n\n"));
    }
  } finally {
    await dest.close();
  }
  return 0;
}

async function sql(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { db: "value", spec: "value", json: "flag" });
  if (args.positional.length !== 1) throw new UsageError(`sql needs one query\n${USAGE}`);
  const { dest } = await openDatabase(args, stringFlag(args, "spec"));
  try {
    const result = await dest.db.query<Record<string, unknown>>(args.positional[0]);
    if (args.flags.has("json")) {
      console.log(JSON.stringify(result.rows, null, 2));
    } else if (result.fields.length > 0) {
      const headers = result.fields.map((f) => f.name);
      console.log(formatTable(headers, result.rows.map((r) => headers.map((h) => r[h]))));
      console.log(`(${result.rows.length} row${result.rows.length === 1 ? "" : "s"})`);
    } else {
      console.log(`ok (${result.affectedRows ?? 0} rows affected)`);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`sql: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await dest.close();
  }
  return 0;
}

async function serve(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { db: "value", spec: "value", host: "value", port: "value" });
  const { dest, dbDir } = await openDatabase(args, stringFlag(args, "spec"));
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  const host = stringFlag(args, "host") ?? "127.0.0.1";
  const port = Number(stringFlag(args, "port") ?? 5432);
  const server = new PGLiteSocketServer({ db: dest.db, host, port });
  await server.start();
  console.log(`serving ${dbDir} on postgresql://postgres@${host}:${port}/postgres`);
  console.log(`connect: psql -h ${host} -p ${port} -U postgres   (Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  await server.stop();
  await dest.close();
  return 0;
}

/** Runs a command; returns the exit code. Errors a user can fix are one-line messages. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        return await run(rest);
      case "plan":
        return await plan(rest);
      case "check":
        return await check(rest);
      case "show":
        return await show(rest);
      case "sql":
        return await sql(rest);
      case "serve":
        return await serve(rest);
      case undefined:
      case "help":
      case "--help":
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (e) {
    if (e instanceof SpecError || e instanceof PlanError || e instanceof UsageError) {
      console.error(e.message);
      return 2;
    }
    if (e instanceof RunError) {
      console.error(`run failed; the previous load is intact.\n${e.message}`);
      return 1;
    }
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
