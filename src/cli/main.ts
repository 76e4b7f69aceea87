/**
 * The command line: `run <spec>` and `show [<spec>]`.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or config.
 *
 * @module
 */
import { loadSpec } from "../spec/load.ts";
import { SpecError } from "../spec/errors.ts";
import { PlanError } from "../plan/plan.ts";
import { defaultDbDir, RunError, runPipeline, type RunResult } from "../pipeline.ts";
import { PgliteDestination } from "../load/pglite.ts";
import { type DatasetSummary, depthOf, describeDataset } from "../show.ts";

/** A usage mistake: exit code 2. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parsed command-line flags and positional arguments. */
export interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

/** Parses `--name value`, `--name=value` and `--flag`, checking names against `known`. */
export function parseArgs(argv: string[], known: Record<string, "value" | "flag">): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    const kind = known[name];
    if (kind === undefined) {
      throw new UsageError(
        `unknown option --${name}; expected ${Object.keys(known).map((k) => `--${k}`).join(", ")}`,
      );
    }
    if (kind === "flag") flags.set(name, true);
    else {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith("--")) {
        throw new UsageError(`--${name} needs a value`);
      }
      flags.set(name, value);
    }
  }
  return { positional, flags };
}

const USAGE = `usage:
  restpipe run <spec.yaml> [--db DIR] [--resources a,b] [--full-refresh]
  restpipe show [<spec.yaml>] [--db DIR] [--json]`;

function pad(s: string | number, n: number, right = false): string {
  const text = String(s);
  return right ? text.padStart(n) : text.padEnd(n);
}

/** The end-of-run summary, one line per resource. */
export function formatRunSummary(result: RunResult): string {
  const w = Math.max(8, ...result.resources.map((r) => r.resource.length));
  const lines = [
    `${pad("resource", w)}  ${pad("rows", 8, true)}  ${pad("requests", 8, true)}  ${
      pad("seconds", 8, true)
    }`,
  ];
  for (const r of result.resources) {
    lines.push(
      `${pad(r.resource, w)}  ${pad(r.rows, 8, true)}  ${pad(r.requests, 8, true)}  ${
        pad(r.seconds.toFixed(2), 8, true)
      }${r.loaded ? "" : "  (fetched for fan-out, not loaded)"}`,
    );
  }
  for (const r of result.resources) {
    for (const k of r.skipped) {
      lines.push(
        `skipped ${k.count} ${r.resource} request(s) on HTTP ${k.status}, e.g. ${k.example}`,
      );
    }
    if (r.restarts > 0) {
      lines.push(`${r.resource}: ${r.restarts} listing(s) restarted after an expired page token`);
    }
  }
  const tables = Object.keys(result.tables).length;
  lines.push(
    `load ${result.loadId}: ${tables} tables committed in ${result.seconds.toFixed(2)} s; ` +
      `${result.requests} requests, ${result.retries} retries, ${result.throttled} throttled (429)`,
  );
  return lines.join("\n");
}

/** The `show` table for people. */
export function formatDataset(summary: DatasetSummary): string {
  if (summary.tables.length === 0) return `dataset ${summary.dataset}: no tables loaded yet`;
  const names = summary.tables.map((t) => "  ".repeat(depthOf(t, summary.tables)) + t.name);
  const w = Math.max(5, ...names.map((n) => n.length));
  const lines = [
    `dataset ${summary.dataset}`,
    `${pad("table", w)}  ${pad("rows", 8, true)}  ${pad("columns", 7, true)}  last load`,
  ];
  summary.tables.forEach((t, i) => {
    const last = t.lastLoad ? `${t.lastLoad.finishedAt} (${t.lastLoad.rows} rows)` : "-";
    lines.push(`${pad(names[i], w)}  ${pad(t.rows, 8, true)}  ${pad(t.columns, 7, true)}  ${last}`);
  });
  const latest = summary.loads[0];
  if (latest) {
    lines.push(
      `last load ${latest.loadId}: ${latest.status} at ${latest.finishedAt}${
        latest.error ? ` — ${latest.error}` : ""
      }`,
    );
  }
  return lines.join("\n");
}

async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { db: "value", resources: "value", "full-refresh": "flag" });
  if (args.positional.length !== 1) throw new UsageError(`run needs one spec file\n${USAGE}`);
  const { spec } = await loadSpec(args.positional[0]);
  const db = args.flags.get("db");
  const resources = args.flags.get("resources");
  const result = await runPipeline(spec, {
    dbDir: typeof db === "string" ? db : defaultDbDir(spec),
    fullRefresh: args.flags.has("full-refresh"),
    resources: typeof resources === "string"
      ? resources.split(",").map((s) => s.trim()).filter(Boolean)
      : undefined,
  });
  console.log(formatRunSummary(result));
  return 0;
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
      if (!e.isDirectory) continue;
      try {
        await Deno.stat(`.data/${e.name}/PG_VERSION`);
        found.push(`.data/${e.name}`);
      } catch { /* not a database */ }
    }
  } catch { /* no .data */ }
  if (found.length === 1) return found[0];
  throw new UsageError(
    found.length === 0
      ? `no database under .data/: run a pipeline first, or name a spec file or --db DIR`
      : `several databases (${found.sort().join(", ")}): name a spec file or --db DIR`,
  );
}

async function show(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { db: "value", json: "flag" });
  if (args.positional.length > 1) {
    throw new UsageError(`show takes at most one spec file\n${USAGE}`);
  }
  let dbDir = args.flags.get("db");
  let datasets: string[] | undefined;
  if (args.positional.length === 1) {
    const { spec } = await loadSpec(args.positional[0], { requireVariables: false });
    if (typeof dbDir !== "string") dbDir = defaultDbDir(spec);
    datasets = [spec.dataset];
  }
  if (typeof dbDir !== "string") dbDir = await onlyDatabase();
  try {
    await Deno.stat(`${dbDir}/PG_VERSION`);
  } catch {
    throw new UsageError(`no database at ${dbDir}: run a pipeline first (deno task run <spec>)`);
  }
  const dest = await PgliteDestination.open(dbDir);
  try {
    const summaries: DatasetSummary[] = [];
    for (const ds of datasets ?? await datasetsIn(dest)) {
      summaries.push(await describeDataset(dest, ds));
    }
    if (args.flags.has("json")) {
      console.log(JSON.stringify(datasets ? summaries[0] : { datasets: summaries }, null, 2));
    } else {
      console.log(
        summaries.length ? summaries.map(formatDataset).join("\n\n") : `no datasets in ${dbDir}`,
      );
    }
  } finally {
    await dest.close();
  }
  return 0;
}

/** Runs a command; returns the exit code. Errors a user can fix are one-line messages. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        return await run(rest);
      case "show":
        return await show(rest);
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
