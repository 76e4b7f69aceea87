/**
 * `restpipe run`: extracts every resource of a spec and commits one load
 *
 * @module
 */
import { type Command, usageText } from "../command.ts";
import { buildPlan } from "../../plan/plan.ts";
import { defaultDbDir, RunError, runPipeline, type RunResult } from "../../pipeline.ts";
import { openTarget } from "../../load/open.ts";
import { messageOf, RestpipeError } from "../../core/errors.ts";
import { EXIT, isTransient } from "../../core/exit.ts";
import type { Spec } from "../../spec/schema.ts";
import type { Progress } from "../../pipeline.ts";
import { JsonLog, summaryJson } from "../report.ts";
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
  "run <spec.yaml> [--db DIR | --destination URL|postgres] [--dataset NAME] [--resources a,b]\n                           [--full-refresh] [--dry-run] [--quiet | --verbose]\n                           [--log-format text|json] [--summary-json FILE] [--no-resume]\n                           [--web [--port N]]",
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
  "log-format": "value",
  "summary-json": "value",
  dataset: "value",
  "no-resume": "flag",
} as const;

/** `restpipe run`. */
export const runCommand: Command = {
  name: "run",
  summary: "extracts every resource of a spec and commits one load",
  usage: USAGE,
  flags: FLAGS,
  run: run,
  notes: `exit codes:
  0    loaded and committed
  1    failed, and retrying will not help (401/403/404, a record without its key…)
  2    bad usage or spec
  75   failed for now: retry later (no answer, 5xx or 429 after every retry, the
       database held by another run, the destination unreachable)
  130  interrupted by SIGINT, 143 by SIGTERM (nothing committed)`,
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
  const format = stringFlag(args, "log-format");
  if (format !== undefined && format !== "text" && format !== "json") {
    throw new UsageError(`--log-format ${format}: expected text or json`);
  }
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
    writeSync: (p) => stderrWrite(encoder.encode(redact(decoder.decode(p)))),
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
  // a run a worker started stops when the worker's end of its standard input closes:
  // the worker stopped it, or died
  if (Deno.env.get("RESTPIPE_STOP_WITH_STDIN") === "1") {
    (async () => {
      const buffer = new Uint8Array(64);
      while ((await Deno.stdin.read(buffer).catch(() => null)) !== null) { /* keep reading */ }
      if (!controller.signal.aborted) controller.abort(new Interrupted("SIGTERM"));
    })();
  }
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
  const json = stringFlag(args, "log-format") === "json" ? jsonLog() : undefined;
  const summaryFile = stringFlag(args, "summary-json");
  const started = new Date();
  let spec: Spec | undefined;
  let lastProgress: Progress | undefined;
  let result: RunResult | undefined;
  let failure: unknown;
  let code: number = EXIT.ok;
  try {
    const loaded = withDataset(await loadSpecRedacted(specFile), stringFlag(args, "dataset"));
    spec = loaded.spec;
    code = await runLoaded(
      args,
      specFile,
      loaded,
      json,
      (p) => lastProgress = p,
      (r) => result = r,
    );
  } catch (e) {
    failure = e;
    code = e instanceof Interrupted
      ? (e.signal === "SIGINT" ? EXIT.sigint : EXIT.sigterm)
      : json
      ? codeOf(e)
      : reportFailure(e);
  }
  const interrupted = code === EXIT.sigint || code === EXIT.sigterm;
  const message = failure === undefined || interrupted ? undefined : redact(messageOf(failure));
  const transient = code === EXIT.tempfail;
  if (json) {
    if (result) json.log("info", "run_finished", finishedFigures(result));
    else if (interrupted) {
      json.log("warn", "run_interrupted", { exit_code: code, message: INTERRUPTED });
    } else if (failure !== undefined) {
      json.log("error", "run_failed", { exit_code: code, transient, message });
    }
  } else if (interrupted) err(INTERRUPTED);
  if (summaryFile !== undefined) {
    const doc = summaryJson({
      pipeline: spec?.pipeline ?? "",
      dataset: spec?.dataset ?? "",
      started,
      code,
      outcome: result ? "loaded" : interrupted ? "interrupted" : "failed",
      transient,
      result,
      progress: lastProgress,
      figures: failure instanceof RunError ? failure.figures : undefined,
      error: message,
    });
    // written whole or not at all: a reader never sees half a document
    const tmp = `${summaryFile}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(tmp, redact(JSON.stringify(doc, null, 2)) + "\n");
    await Deno.rename(tmp, summaryFile);
  }
  return code;
}

/**
 * The spec with `--dataset` in place of its own dataset: one spec for many organisations,
 * each into a dataset of its own (a worker fleet's pipelines).
 */
function withDataset<T extends { spec: Spec }>(loaded: T, dataset: string | undefined): T {
  if (dataset === undefined) return loaded;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(dataset)) {
    throw new UsageError(`--dataset ${dataset}: expected a name of letters, digits and _`);
  }
  return { ...loaded, spec: { ...loaded.spec, dataset } };
}

const INTERRUPTED = "interrupted: nothing committed; the previous load is intact";

/** The exit code of a failure, without printing it (JSON logs report it themselves). */
function codeOf(e: unknown): number {
  if (e instanceof RestpipeError) return e.exitCode;
  return isTransient(e) ? EXIT.tempfail : EXIT.failed;
}

/** A JSON-lines log on standard error, secrets removed. */
function jsonLog(): JsonLog {
  const encoder = new TextEncoder();
  return new JsonLog((line) => stderrWrite(encoder.encode(redact(line) + "\n")));
}

/**
 * Writes to standard error; a reader that went away (a worker killed) is no failure of
 * the run: it goes on to its end, or to its stop, and keeps its checkpoint either way.
 */
function stderrWrite(bytes: Uint8Array): number {
  try {
    return Deno.stderr.writeSync(bytes);
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) return bytes.length;
    throw e;
  }
}

/** The figures of the `run_finished` line. */
function finishedFigures(r: RunResult): Record<string, unknown> {
  return {
    exit_code: 0,
    load_id: r.loadId,
    seconds: Math.round(r.seconds * 10) / 10,
    requests: r.requests,
    retries: r.retries,
    throttled: r.throttled,
    rows: Object.values(r.tables).reduce((a, b) => a + b, 0),
    deleted: r.resources.reduce((a, s) => a + s.deleted, 0),
  };
}

/** The run itself, once its spec is loaded. */
async function runLoaded(
  args: Args,
  specFile: string,
  { spec, secrets, variables }: Awaited<ReturnType<typeof loadSpecRedacted>>,
  json: JsonLog | undefined,
  onProgress: (p: Progress) => void,
  onResult: (r: RunResult) => void,
): Promise<number> {
  const verbosity = verbosityOf(args);
  const reporter = stderrReporter(json ? "quiet" : verbosity);
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
        onProgress: (p) => {
          onProgress(p);
          if (live) live.progress = p;
          if (json) json.update(p);
          else if (verbosity !== "quiet") reporter.update(p);
        },
        progressIntervalMs: live ? 500 : Deno.stderr.isTerminal() ? 250 : 1000,
        secrets,
        baseUrlFrom: baseUrlFrom(variables),
        signal: interrupt.signal,
        purpose: `run ${specFile}`,
        resume: !args.flags.has("no-resume"),
        onNote: (note) => json ? json.log("info", "checkpoint", { message: note }) : err(note),
      });
      reporter.done();
      onResult(result);
      if (!json) printResult(result, verbosity);
      else if (verbosity !== "quiet") out(formatRunSummary(result));
      if (live) Object.assign(live, { running: false, result });
    } catch (e) {
      reporter.done();
      const reason = interrupt.signal.reason;
      if (interrupt.signal.aborted && reason instanceof Interrupted) {
        await dashboard?.close();
        throw reason;
      }
      if (!live) throw e;
      // the page shows the failure; the terminal says it at once, as without --web
      code = json ? codeOf(e) : reportFailure(e);
      json?.log("error", "run_failed", {
        exit_code: code,
        transient: code === EXIT.tempfail,
        message: redact(messageOf(e)),
      });
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
