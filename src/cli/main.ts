/**
 * The command line: `run`, `plan`, `check`, `show`, `sql` and `serve`.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or config.
 *
 * @module
 */
import { loadSpec } from "../spec/load.ts";
import { parse as parseYaml } from "yaml";
import type { OpenApiDocument } from "../spec/openapi.ts";
import { describeCandidates, generateSpec } from "../spec/init_openapi.ts";
import { SpecError } from "../spec/errors.ts";
import type { Spec } from "../spec/schema.ts";
import { buildPlan, PlanError } from "../plan/plan.ts";
import { estimateRun } from "../plan/estimate.ts";
import { defaultDbDir, RunError, runPipeline } from "../pipeline.ts";
import { PgliteDestination } from "../load/pglite.ts";
import type { Destination, LoadRecord } from "../load/destination.ts";
import {
  DestinationError,
  openTarget,
  resolveTarget,
  type Target,
  targetSecrets,
} from "../load/open.ts";
import { describeUrl } from "../load/postgres.ts";
import { assertNotHeld, DatabaseDirError, DatabaseLockedError } from "../load/lock.ts";
import { credentialsOf } from "../extract/http.ts";
import { Redactor } from "../secrets.ts";
import { isLoopbackHost } from "../spec/schema.ts";
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
import { type LiveState, startDashboard } from "../web/server.ts";

export { parseArgs, UsageError };

/** Removes the loaded spec's secrets from everything the command prints. */
let redactor = new Redactor([]);

function out(text: string): void {
  console.log(redactor.redact(text));
}

function err(text: string): void {
  console.error(redactor.redact(text));
}

/** Loads a spec and makes its secrets (and credentials) redacted from all output. */
async function loadSpecRedacted(
  file: string,
  options: Parameters<typeof loadSpec>[1] = {},
): Promise<Awaited<ReturnType<typeof loadSpec>>> {
  const loaded = await loadSpec(file, options);
  redactor = new Redactor([...loaded.secrets, ...credentialsOf(loaded.spec.source.auth)]);
  return loaded;
}

/** A run stopped by Ctrl-C or SIGTERM. */
class Interrupted extends Error {
  readonly signal: Deno.Signal;
  constructor(signal: Deno.Signal) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
  }
}

const USAGE = `usage:
  restpipe run <spec.yaml> [--db DIR | --destination URL|postgres] [--resources a,b]
                           [--full-refresh] [--dry-run] [--quiet | --verbose]
                           [--web [--port N]]
  restpipe plan <spec.yaml> [--db DIR | --destination URL|postgres] [--resources a,b] [--json]
  restpipe check <spec.yaml> [--openapi <file>]
  restpipe init --openapi <file|url> [--resources /path,/path] [--out <spec.yaml>]
  restpipe show [<spec.yaml>] [<table>] [--db DIR | --destination URL|postgres] [--loads] [--json]
  restpipe show [<spec.yaml>] --web [--port N] [--db DIR | --destination URL|postgres]
  restpipe sql "<query>" [--db DIR | --destination URL|postgres] [--spec <spec.yaml>] [--json]
               [--write]
  restpipe serve [--db DIR | --spec <spec.yaml>] [--host 127.0.0.1] [--port 5432] [--write]`;

/** The `--port` of a dashboard: 0 (a free port) when not given. */
function portFlag(args: Args): number {
  const value = stringFlag(args, "port");
  if (value === undefined) return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port ${value}: not a port number (0-65535)`);
  }
  if (!args.flags.has("web")) throw new UsageError("--port goes with --web");
  return port;
}

/** Resolves at the first Ctrl-C or SIGTERM. */
function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const stop = () => {
      for (const sig of signals) Deno.removeSignalListener(sig, stop);
      resolve();
    };
    for (const sig of signals) Deno.addSignalListener(sig, stop);
  });
}

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
    destination: "value",
    resources: "value",
    "full-refresh": "flag",
    "dry-run": "flag",
    json: "flag",
    quiet: "flag",
    verbose: "flag",
    web: "flag",
    port: "value",
  });
  if (args.flags.has("dry-run")) {
    if (args.flags.has("web")) throw new UsageError("--web goes with a run, not --dry-run");
    return await plan(argv.filter((a) => a !== "--dry-run"));
  }
  if (args.flags.has("json")) throw new UsageError("--json goes with --dry-run (or use plan)");
  if (args.flags.has("quiet") && args.flags.has("verbose")) {
    throw new UsageError("--quiet and --verbose exclude each other");
  }
  const specFile = oneSpec(args, "run");
  const { spec, secrets } = await loadSpecRedacted(specFile);
  const verbosity: Verbosity = args.flags.has("quiet")
    ? "quiet"
    : args.flags.has("verbose")
    ? "verbose"
    : "normal";
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const reporter = new ProgressReporter(verbosity, Deno.stderr.isTerminal(), 5, {
    writeSync: (p) => Deno.stderr.writeSync(encoder.encode(redactor.redact(decoder.decode(p)))),
  });
  // Ctrl-C or SIGTERM: abort, roll back, say so; a second one exits at once
  const controller = new AbortController();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = (signal: Deno.Signal) => () => {
    if (controller.signal.aborted) Deno.exit(signal === "SIGINT" ? 130 : 143);
    controller.abort(new Interrupted(signal));
  };
  const listeners = signals.map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, fn] of listeners) Deno.addSignalListener(sig, fn);
  const target = targetOf(args, stringFlag(args, "db") ?? defaultDbDir(spec));
  const port = portFlag(args);
  // with --web the command holds the destination itself, so the page can read it afterwards
  const web = args.flags.has("web");
  const opened = target.kind === "postgres" || web
    ? await openTarget(target, `run ${specFile}`)
    : undefined;
  const live: LiveState | undefined = web
    ? { running: false, progress: null, result: null, error: null }
    : undefined;
  let code = 0;
  try {
    const dashboard = live && opened
      ? await startDashboard({
        dest: opened,
        dataset: spec.dataset,
        plan: buildPlan(spec, resourcesFlag(args)),
        port,
        live,
        redact: (t) => redactor.redact(t),
      })
      : undefined;
    if (dashboard) out(`dashboard: ${dashboard.url}`);
    try {
      if (live) live.running = true;
      const result = await runPipeline(spec, {
        destination: opened,
        dbDir: target.kind === "pglite" ? target.dir : undefined,
        fullRefresh: args.flags.has("full-refresh"),
        resources: resourcesFlag(args),
        onProgress: verbosity === "quiet" && !live ? undefined : (p) => {
          if (live) live.progress = p;
          reporter.update(p);
        },
        progressIntervalMs: live ? 500 : Deno.stderr.isTerminal() ? 250 : 1000,
        secrets,
        signal: controller.signal,
        purpose: `run ${specFile}`,
      });
      reporter.done();
      if (verbosity === "quiet") {
        const rows = Object.values(result.tables).reduce((a, b) => a + b, 0);
        out(`load ${result.loadId}: ${rows} rows in ${result.seconds.toFixed(1)} s`);
      } else {
        out(formatRunSummary(result));
      }
      if (live) Object.assign(live, { running: false, result });
    } catch (e) {
      reporter.done();
      const reason = controller.signal.reason;
      if (controller.signal.aborted && reason instanceof Interrupted) {
        err("interrupted: nothing committed; the previous load is intact");
        await dashboard?.close();
        return reason.signal === "SIGINT" ? 130 : 143;
      }
      if (!live) throw e;
      // the page shows the failure; the terminal says it at once, as without --web
      code = reportFailure(e);
      Object.assign(live, { running: false, error: redactor.redact(messageOf(e)) });
    } finally {
      reporter.done();
      for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
    }
    if (dashboard) {
      err(`the dashboard stays at ${dashboard.url} (Ctrl-C stops it)`);
      await untilSignal();
      await dashboard.close();
    }
  } finally {
    await opened?.close();
  }
  return code;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function plan(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    db: "value",
    destination: "value",
    resources: "value",
    json: "flag",
  });
  const { spec } = await loadSpecRedacted(oneSpec(args, "plan"), { requireVariables: false });
  const p = buildPlan(spec, resourcesFlag(args));
  const target = targetOf(args, stringFlag(args, "db") ?? defaultDbDir(spec));
  let last: LoadRecord | undefined;
  if (target.kind === "postgres" || await isDatabase(target.dir)) {
    if (target.kind === "pglite") await assertNotHeld(target.dir);
    const dest = await openTarget(target, "plan");
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
    out(JSON.stringify({ basedOnLoad: last?.load_id ?? null, ...estimate }, null, 2));
  } else {
    out(formatEstimate(spec, estimate, last?.load_id));
  }
  return 0;
}

async function check(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { openapi: "value" });
  const file = oneSpec(args, "check");
  const openapiFile = stringFlag(args, "openapi");
  const openapi = openapiFile === undefined ? undefined : await readOpenApi(openapiFile);
  const loaded = await loadSpecRedacted(file, { openapi });
  out(formatCheck(loaded.file, loaded.spec, buildPlan(loaded.spec), loaded.variables));
  if (openapiFile !== undefined) {
    out(
      `\nchecked against ${openapiFile}: every resource's path has a GET, every param is ` +
        `declared and every required one given, every field is one the API returns`,
    );
  }
  return 0;
}

async function init(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { openapi: "value", resources: "value", out: "value" });
  const file = stringFlag(args, "openapi");
  if (file === undefined) throw new UsageError("init needs --openapi <file>");
  const doc = await readOpenApi(file);
  const paths = resourcesFlag(args);
  if (paths === undefined) {
    out(
      `GET paths of ${file} that list records (pass some as --resources /a,/b/{id}/c):\n` +
        describeCandidates(doc),
    );
    return 0;
  }
  let text: string;
  try {
    text = generateSpec(doc, { paths, source: file });
  } catch (e) {
    throw new UsageError(`--resources: ${(e as Error).message}`);
  }
  const target = stringFlag(args, "out");
  if (target === undefined) {
    out(text);
    return 0;
  }
  try {
    await Deno.writeTextFile(target, text, { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(`--out ${target}: the file exists; choose another name`);
    }
    throw e;
  }
  out(`wrote ${target}: review the lines marked "guessed", then deno task check ${target}`);
  return 0;
}

/** An OpenAPI description (YAML or JSON, gzipped or not) from a file or an http(s) URL. */
async function readOpenApi(file: string): Promise<OpenApiDocument> {
  let text: string;
  try {
    if (/^https?:\/\//i.test(file)) {
      const res = await fetch(file, { headers: { accept: "application/yaml, application/json" } });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      text = file.endsWith(".gz")
        ? await new Response(res.body!.pipeThrough(new DecompressionStream("gzip"))).text()
        : await res.text();
    } else if (file.endsWith(".gz")) {
      const bytes = await Deno.readFile(file);
      text = await new Response(
        new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
      ).text();
    } else text = await Deno.readTextFile(file);
  } catch (e) {
    throw new UsageError(
      `--openapi ${file}: ${e instanceof Deno.errors.NotFound ? "no such file" : String(e)}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: -1 });
  } catch (e) {
    throw new UsageError(
      `--openapi ${file}: not YAML or JSON (${(e as Error).message.split("\n")[0]})`,
    );
  }
  if (typeof doc !== "object" || doc === null || !("paths" in doc)) {
    throw new UsageError(`--openapi ${file}: not an OpenAPI description (no paths)`);
  }
  return doc as OpenApiDocument;
}

async function isDatabase(dir: string): Promise<boolean> {
  try {
    await Deno.stat(`${dir}/PG_VERSION`);
    return true;
  } catch {
    return false;
  }
}

/** The target of `--destination` (or `--db DIR`), with its password made secret. */
function targetOf(args: Args, dbDir: string): Target {
  const target = resolveTarget(stringFlag(args, "destination"), dbDir);
  redactor = redactor.with(targetSecrets(target));
  return target;
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
  purpose: string,
): Promise<{ dest: Destination; dbDir: string; spec: Spec | undefined }> {
  let dbDir = stringFlag(args, "db");
  let spec: Spec | undefined;
  if (specFile !== undefined) {
    spec = (await loadSpecRedacted(specFile, { requireVariables: false })).spec;
    dbDir ??= defaultDbDir(spec);
  }
  if (stringFlag(args, "destination") !== undefined) {
    const target = targetOf(args, dbDir ?? "");
    if (target.kind === "postgres") {
      return { dest: await openTarget(target, purpose), dbDir: describeUrl(target.url), spec };
    }
  }
  dbDir ??= await onlyDatabase();
  await assertNotHeld(dbDir);
  if (!(await isDatabase(dbDir))) {
    throw new UsageError(`no database at ${dbDir}: run a pipeline first (deno task run <spec>)`);
  }
  return { dest: await PgliteDestination.open(dbDir, purpose), dbDir, spec };
}

async function show(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    db: "value",
    destination: "value",
    json: "flag",
    loads: "flag",
    web: "flag",
    port: "value",
  });
  const specFile = args.positional.find((a) => /\.ya?ml$/.test(a));
  const tables = args.positional.filter((a) => a !== specFile);
  if (tables.length > 1) throw new UsageError(`show takes at most one table\n${USAGE}`);
  const port = portFlag(args);
  if (args.flags.has("web") && (tables.length > 0 || args.flags.has("json"))) {
    throw new UsageError("show --web draws every table: leave out the table name and --json");
  }
  const { dest, dbDir, spec } = await openDatabase(args, specFile, "show");
  const json = args.flags.has("json");
  try {
    if (args.flags.has("web")) {
      const dashboard = await startDashboard({
        dest,
        dataset: spec?.dataset,
        plan: spec ? buildPlan(spec) : undefined,
        port,
        redact: (t) => redactor.redact(t),
      });
      out(`dashboard: ${dashboard.url}`);
      err(`serving ${dbDir} read-only (Ctrl-C stops)`);
      await untilSignal();
      await dashboard.close();
      return 0;
    }
    const datasets = spec ? [spec.dataset] : await dest.datasets();
    if (tables.length === 1) {
      for (const ds of datasets) {
        const detail = await describeTable(dest, ds, tables[0]);
        if (detail) {
          out(json ? JSON.stringify(detail, null, 2) : formatTableDetail(detail));
          return 0;
        }
      }
      throw new UsageError(`no table "${tables[0]}" in ${datasets.join(", ") || dbDir}`);
    }
    const summaries: DatasetSummary[] = [];
    for (const ds of datasets) summaries.push(await describeDataset(dest, ds));
    if (json) {
      out(JSON.stringify(spec ? summaries[0] : { datasets: summaries }, null, 2));
    } else if (summaries.length === 0) {
      out(`no datasets in ${dbDir}`);
    } else if (args.flags.has("loads")) {
      out(summaries.map(formatLoads).join("\n\n"));
    } else {
      out(summaries.map(formatDataset).join("\n\n"));
    }
  } finally {
    await dest.close();
  }
  return 0;
}

async function sql(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    db: "value",
    destination: "value",
    spec: "value",
    json: "flag",
    write: "flag",
  });
  if (args.positional.length !== 1) throw new UsageError(`sql needs one query\n${USAGE}`);
  const { dest } = await openDatabase(args, stringFlag(args, "spec"), "sql");
  const write = args.flags.has("write");
  try {
    // read-only unless --write: the query runs in a read-only transaction, rolled back
    const result = await dest.query(args.positional[0], [], { write });
    if (args.flags.has("json")) {
      out(JSON.stringify(result.rows, null, 2));
    } else if (result.fields.length > 0) {
      const headers = result.fields.map((f) => f.name);
      out(formatTable(headers, result.rows.map((r) => headers.map((h) => r[h]))));
      out(`(${result.rows.length} row${result.rows.length === 1 ? "" : "s"})`);
    } else {
      out(`ok (${result.affectedRows ?? 0} rows affected)`);
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const hint = !write && /read-only transaction/.test(message)
      ? "; sql is read-only unless --write is given"
      : "";
    throw new UsageError(`sql: ${message}${hint}`);
  } finally {
    await dest.close();
  }
  return 0;
}

async function serve(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    db: "value",
    spec: "value",
    host: "value",
    port: "value",
    write: "flag",
  });
  const host = stringFlag(args, "host") ?? "127.0.0.1";
  if (!isLoopbackHost(host)) {
    throw new UsageError(
      `serve: refusing --host ${host}: the server has no password, so it listens on loopback ` +
        `only (127.0.0.1, ::1); reach it from elsewhere through an SSH tunnel`,
    );
  }
  const opened = await openDatabase(args, stringFlag(args, "spec"), "serve");
  const { dbDir } = opened;
  if (!(opened.dest instanceof PgliteDestination)) {
    await opened.dest.close();
    throw new UsageError("serve is for the embedded database: connect to your server directly");
  }
  const dest = opened.dest;
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  // read-only unless --write: every transaction a client opens starts read-only
  if (!args.flags.has("write")) await dest.db.exec("set default_transaction_read_only = on");
  const port = Number(stringFlag(args, "port") ?? 5432);
  const server = new PGLiteSocketServer({ db: dest.db, host, port });
  await server.start();
  out(
    `serving ${dbDir} ${
      args.flags.has("write") ? "read-write" : "read-only"
    } on postgresql://postgres@${host}:${port}/postgres`,
  );
  out(`connect: psql -h ${host} -p ${port} -U postgres   (Ctrl-C stops)`);
  await untilSignal();
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
      case "init":
        return await init(rest);
      case "show":
        return await show(rest);
      case "sql":
        return await sql(rest);
      case "serve":
        return await serve(rest);
      case undefined:
      case "help":
      case "--help":
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (e) {
    return reportFailure(e);
  }
}

/** Says why a command failed, in one message a user can act on; returns the exit code. */
function reportFailure(e: unknown): number {
  if (
    e instanceof SpecError || e instanceof PlanError || e instanceof UsageError ||
    e instanceof DatabaseDirError || e instanceof DestinationError
  ) {
    err(e.message);
    return 2;
  }
  if (e instanceof DatabaseLockedError) {
    err(`refused: ${e.message}`);
    return 1;
  }
  if (e instanceof RunError) {
    err(`run failed; the previous load is intact.\n${e.message}`);
    return 1;
  }
  err(`error: ${messageOf(e)}`);
  return 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
