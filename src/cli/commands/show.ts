/**
 * `restpipe show`: summarises what was loaded: tables, rows, loads; --web serves the dashboard
 *
 * @module
 */
import { type Command, usageText } from "../command.ts";
import { buildPlan } from "../../plan/plan.ts";
import { type DatasetSummary, describeDataset, describeTable } from "../../show.ts";
import { parseArgs, stringFlag, UsageError } from "../args.ts";
import { formatDataset, formatLoads, formatTableDetail } from "../format.ts";
import { startDashboard } from "../../web/server.ts";
import { err, out, redact } from "../io.ts";
import { openDatabase, portFlag, untilSignal } from "../common.ts";

const USAGE = [
  "show [<spec.yaml> | --spec <spec.yaml>] [<table>] [--db DIR | --destination URL|postgres]\n" +
  "                              [--loads] [--json]",
  "show [<spec.yaml>] --web [--port N] [--db DIR | --destination URL|postgres]",
];

const FLAGS = {
  db: "value",
  destination: "value",
  spec: "value",
  json: "flag",
  loads: "flag",
  web: "flag",
  port: "value",
} as const;

/** `restpipe show`. */
export const showCommand: Command = {
  name: "show",
  summary: "summarises what was loaded: tables, rows, loads; --web serves the dashboard",
  usage: USAGE,
  flags: FLAGS,
  run: show,
};

async function show(argv: string[]): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  // the spec as the first YAML file named, or as --spec (as sql takes it)
  const named = args.positional.find((a) => /\.ya?ml$/.test(a));
  if (named !== undefined && stringFlag(args, "spec") !== undefined) {
    throw new UsageError("show takes one spec: as a file name or as --spec, not both");
  }
  const specFile = named ?? stringFlag(args, "spec");
  const tables = args.positional.filter((a) => a !== named);
  if (tables.length > 1) throw new UsageError(`show takes at most one table\n${usageText(USAGE)}`);
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
        redact: (t) => redact(t),
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
