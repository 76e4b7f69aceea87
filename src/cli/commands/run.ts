/**
 * `restpipe run`: extracts every resource of a spec and commits one load
 *
 * @module
 */
import { type Command, usageText } from "../command.ts";
import { buildPlan } from "../../plan/plan.ts";
import { defaultDbDir, runPipeline, type RunResult } from "../../pipeline.ts";
import { openTarget } from "../../load/open.ts";
import { messageOf } from "../../core/errors.ts";
import { type Args, parseArgs, stringFlag, UsageError } from "../args.ts";
import { formatRunSummary } from "../format.ts";
import { ProgressReporter, type Verbosity } from "../progress.ts";
import { type LiveState, startDashboard } from "../../web/server.ts";
import { err, out, redact } from "../io.ts";
import {
  loadSpecRedacted,
  oneSpec,
  portFlag,
  reportFailure,
  resourcesFlag,
  targetOf,
  untilSignal,
} from "../common.ts";
import { planCommand } from "./plan.ts";
import type { ResolvedVariable } from "../../spec/interpolate.ts";

const USAGE = [
  "run <spec.yaml> [--db DIR | --destination URL|postgres] [--resources a,b]\n                           [--full-refresh] [--dry-run] [--quiet | --verbose]\n                           [--web [--port N]]",
];

/** A run stopped by Ctrl-C or SIGTERM. */
class Interrupted extends Error {
  readonly signal: Deno.Signal;
  constructor(signal: Deno.Signal) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
  }
}

const FLAGS = {
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
} as const;

/** `restpipe run`. */
export const runCommand: Command = {
  name: "run",
  summary: "extracts every resource of a spec and commits one load",
  usage: USAGE,
  flags: FLAGS,
  run: run,
};

/** Where the base URL's variables came from: `${ASANA_BASE_URL} in the environment`. */
function baseUrlFrom(variables: readonly ResolvedVariable[]): string | undefined {
  const used = variables.filter((v) => v.path?.join(".") === "source.base_url");
  if (used.length === 0) return undefined;
  const where = (from: ResolvedVariable["from"]) =>
    from === "environment"
      ? "in the environment"
      : from === "default"
      ? "unset: its default"
      : `in ${from}`;
  return used.map((v) => `\${${v.variable}} ${where(v.from)}`).join(", ");
}

/** The flags that exclude each other, checked before anything is read. */
function checkFlags(args: Args): void {
  if (args.flags.has("json")) throw new UsageError("--json goes with --dry-run (or use plan)");
  if (args.flags.has("quiet") && args.flags.has("verbose")) {
    throw new UsageError("--quiet and --verbose exclude each other");
  }
}

function verbosityOf(args: Args): Verbosity {
  return args.flags.has("quiet") ? "quiet" : args.flags.has("verbose") ? "verbose" : "normal";
}

/** Progress on standard error, secrets removed. */
function stderrReporter(verbosity: Verbosity): ProgressReporter {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return new ProgressReporter(verbosity, Deno.stderr.isTerminal(), 5, {
    writeSync: (p) => Deno.stderr.writeSync(encoder.encode(redact(decoder.decode(p)))),
  });
}

/**
 * Ctrl-C or SIGTERM aborts the run (which rolls back); a second one exits at once.
 * `stop()` removes the listeners.
 */
function interruptible(): { signal: AbortSignal; stop: () => void } {
  const controller = new AbortController();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = (signal: Deno.Signal) => () => {
    if (controller.signal.aborted) Deno.exit(signal === "SIGINT" ? 130 : 143);
    controller.abort(new Interrupted(signal));
  };
  const listeners = signals.map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, fn] of listeners) Deno.addSignalListener(sig, fn);
  return {
    signal: controller.signal,
    stop: () => {
      for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
    },
  };
}

/** The summary, or one line with --quiet. */
function printResult(result: RunResult, verbosity: Verbosity): void {
  if (verbosity === "quiet") {
    const rows = Object.values(result.tables).reduce((a, b) => a + b, 0);
    out(`load ${result.loadId}: ${rows} rows in ${result.seconds.toFixed(1)} s`);
  } else {
    out(formatRunSummary(result));
  }
}

async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  if (args.flags.has("dry-run")) {
    if (args.flags.has("web")) throw new UsageError("--web goes with a run, not --dry-run");
    return await planCommand.run(argv.filter((a) => a !== "--dry-run"));
  }
  checkFlags(args);
  const specFile = oneSpec(args, "run", usageText(USAGE));
  const { spec, secrets, variables } = await loadSpecRedacted(specFile);
  const verbosity = verbosityOf(args);
  const reporter = stderrReporter(verbosity);
  const interrupt = interruptible();
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
        redact: (t) => redact(t),
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
        baseUrlFrom: baseUrlFrom(variables),
        signal: interrupt.signal,
        purpose: `run ${specFile}`,
      });
      reporter.done();
      printResult(result, verbosity);
      if (live) Object.assign(live, { running: false, result });
    } catch (e) {
      reporter.done();
      const reason = interrupt.signal.reason;
      if (interrupt.signal.aborted && reason instanceof Interrupted) {
        err("interrupted: nothing committed; the previous load is intact");
        await dashboard?.close();
        return reason.signal === "SIGINT" ? 130 : 143;
      }
      if (!live) throw e;
      // the page shows the failure; the terminal says it at once, as without --web
      code = reportFailure(e);
      Object.assign(live, { running: false, error: redact(messageOf(e)) });
    } finally {
      reporter.done();
      interrupt.stop();
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
