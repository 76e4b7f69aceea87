/**
 * The fleet file: which pipelines a worker fleet runs, for which organisation, on what
 * schedule. It names where each organisation's credentials are (an env file, or a
 * `.dlt` folder), never the credentials themselves: jobs in the queue carry only a
 * pipeline's name, and the worker that takes one reads the file.
 *
 * ```yaml
 * pipelines:
 *   acme:
 *     spec: pipelines/asana.yaml    # relative to this file
 *     dataset: acme_asana           # each organisation its own dataset
 *     env_file: orgs/acme.env       # ASANA_ACCESS_TOKEN=… for this organisation
 *     schedule: "0 * * * *"         # cron, in UTC unless `tz`
 * ```
 *
 * @module
 */
import * as v from "valibot";
import { LineCounter, parseDocument } from "yaml";
import { dirname, resolve } from "node:path";
import { SpecError, type SpecIssue } from "../spec/errors.ts";
import { offsetOf } from "../spec/load.ts";

const name = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a name of letters, digits and _"),
);

/** A cron expression of five (or six, with seconds) fields. */
const cron = v.pipe(
  v.string(),
  v.regex(
    /^\s*(\S+\s+){4,5}\S+\s*$/,
    'expected a cron expression of five fields, such as "0 * * * *" (hourly)',
  ),
);

/** One pipeline of the fleet: a spec run for one organisation. */
export const FleetPipelineSchema = v.strictObject({
  /** The spec file, relative to the fleet file. */
  spec: v.string(),
  /** The dataset it loads (default: the spec's). Two pipelines never share one. */
  dataset: v.optional(name),
  /**
   * A file of `NAME=value` lines: the organisation's credentials and settings, given to
   * its runs as environment variables.
   */
  env_file: v.optional(v.string()),
  /** A folder with `.dlt/secrets.toml` for this organisation (dlt's way), as the runs' folder. */
  dlt_dir: v.optional(v.string()),
  /**
   * The key of the credentials: at most one run per key at a time across the fleet
   * (default: the env file, else the dlt folder, else the pipeline's name).
   */
  token_key: v.optional(v.string()),
  /** When to run: a cron expression. */
  schedule: v.optional(cron),
  /** The schedule's time zone (IANA name; default UTC). */
  tz: v.optional(v.string()),
  /** Only these resources (`run --resources`); every resource when absent. */
  resources: v.optional(v.array(name)),
});

/** Retries of temporary failures (exit code 75), with exponential backoff. */
export const FleetRetrySchema = v.strictObject({
  /** Retries after the first attempt. */
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 5),
  /** The first retry's delay, in seconds; each next one about twice as long. */
  delay_seconds: v.optional(v.pipe(v.number(), v.minValue(0)), 60),
  /** The longest delay between two attempts, in seconds. */
  max_delay_seconds: v.optional(v.pipe(v.number(), v.minValue(1)), 3600),
});

/** The fleet file. */
export const FleetSchema = v.strictObject({
  pipelines: v.record(name, FleetPipelineSchema),
  retry: v.optional(FleetRetrySchema, {}),
  /**
   * How often a running job proves its worker alive, in seconds (at least 10): a job
   * whose worker died (killed, its machine gone) is retried once this passes unheard.
   */
  heartbeat_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10)), 30),
});

/** One pipeline of a loaded fleet, its paths made absolute. */
export type FleetPipeline = v.InferOutput<typeof FleetPipelineSchema> & {
  /** Its name in the fleet file. */
  name: string;
  /** The concurrency key of its credentials. */
  key: string;
};

/** A loaded fleet file. */
export interface Fleet {
  /** The file, as named. */
  file: string;
  pipelines: Map<string, FleetPipeline>;
  retry: v.InferOutput<typeof FleetRetrySchema>;
  heartbeatSeconds: number;
}

/** Reads and checks a fleet file; problems are `file:line:column key: message`, exit 2. */
export async function loadFleet(file: string): Promise<Fleet> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new SpecError(file, [{
      path: [],
      message: `cannot read the fleet file: ${e instanceof Error ? e.message : String(e)}`,
    }]);
  }
  return parseFleet(text, file);
}

/** Parses a fleet file's text (paths resolve against `file`'s folder). */
export function parseFleet(text: string, file: string): Fleet {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const at = (path: (string | number)[], message: string): SpecIssue => {
    const offset = offsetOf(doc.contents, path);
    if (offset === undefined) return { path, message };
    const { line, col } = lineCounter.linePos(offset);
    return { path, message, line, column: col };
  };
  if (doc.errors.length > 0) {
    throw new SpecError(file, doc.errors.map((e) => ({ path: [], message: e.message })));
  }
  const result = v.safeParse(FleetSchema, doc.toJS());
  if (!result.success) {
    throw new SpecError(
      file,
      result.issues.map((i) => {
        const path = (i.path ?? []).map((p) => p.key as string | number);
        if (i.kind === "schema" && i.received === "undefined" && path.length > 0) {
          return at(path.slice(0, -1), `missing required key "${path.at(-1)}"`);
        }
        if (i.type === "strict_object" && i.expected === "never") {
          return at(path, `unknown key "${path.at(-1)}"`);
        }
        return at(path, i.message);
      }),
    );
  }
  const base = dirname(resolve(file));
  const pipelines = new Map<string, FleetPipeline>();
  const datasets = new Map<string, string>();
  const issues: SpecIssue[] = [];
  for (const [pipelineName, p] of Object.entries(result.output.pipelines)) {
    const abs = (x: string | undefined) => x === undefined ? undefined : resolve(base, x);
    const pipeline: FleetPipeline = {
      ...p,
      name: pipelineName,
      spec: abs(p.spec)!,
      env_file: abs(p.env_file),
      dlt_dir: abs(p.dlt_dir),
      key: p.token_key ?? abs(p.env_file) ?? abs(p.dlt_dir) ?? pipelineName,
    };
    const dataset = `${pipeline.spec}#${p.dataset ?? ""}`;
    const other = datasets.get(dataset);
    if (other !== undefined) {
      issues.push(
        at(["pipelines", pipelineName], `loads the same dataset as ${other}: give it a dataset`),
      );
    }
    datasets.set(dataset, pipelineName);
    pipelines.set(pipelineName, pipeline);
  }
  if (issues.length > 0) throw new SpecError(file, issues);
  return {
    file,
    pipelines,
    retry: result.output.retry,
    heartbeatSeconds: result.output.heartbeat_seconds,
  };
}

/** The variables of an env file: `NAME=value` lines; `#` comments; quotes removed. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (/^(".*"|'.*')$/.test(value)) value = value.slice(1, -1);
    out[m[1]] = value;
  }
  return out;
}
