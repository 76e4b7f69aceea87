/**
 * Test helpers: temporary folders, the CLI as a subprocess, and a small generic
 * JSON API on loopback for paginator and disposition tests.
 *
 * @module
 */

import { parseSpec } from "../src/spec/load.ts";
import type { Spec } from "../src/spec/schema.ts";
import { buildPlan } from "../src/plan/plan.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { PostgresDestination } from "../src/load/postgres.ts";
import type { Destination } from "../src/load/destination.ts";
import { freshDatabase, NO_POSTGRES } from "./pg.ts";
import { describeDataset } from "../src/show.ts";

/** A fresh temporary folder, removed by the returned function. */
export async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "restpipe-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** The repository root. */
export const ROOT: string = new URL("..", import.meta.url).pathname;

/**
 * `restpipe ARGS` as a process of its own, with every permission and Deno's own notes
 * quiet: what a test or a benchmark starts and watches (`.spawn()`) or waits for
 * (`.output()`). `options` go to `Deno.Command` as they are (env, cwd, stdio).
 */
export function cliCommand(
  args: string[],
  options: Omit<Deno.CommandOptions, "args"> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", `${ROOT}src/cli/main.ts`, ...args],
    ...options,
  });
}

/** Runs the CLI (`src/cli/main.ts`) as a user would, returning exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  cwd = ROOT,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      // Deno's own notes ("Download …" while its cache fills, peer dependency warnings)
      // are not restpipe's output, which the tests compare
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      "--allow-sys",
      `${ROOT}src/cli/main.ts`,
      ...args,
    ],
    cwd,
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A tiny JSON API serving `routes` (path → handler) on 127.0.0.1. */
export function serveJson(
  handler: (
    url: URL,
    req: Request,
  ) => { status?: number; body: unknown; headers?: Record<string, string> },
): { url: string; requests: URL[]; [Symbol.asyncDispose](): Promise<void> } {
  const requests: URL[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    requests.push(url);
    const r = handler(url, req);
    return new Response(JSON.stringify(r.body), {
      status: r.status ?? 200,
      headers: { "content-type": "application/json", ...r.headers },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Writes a spec file into `dir` and returns its path. */
export async function writeSpec(dir: string, text: string, name = "spec.yaml"): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, text);
  return path;
}

/**
 * pipelines/asana.yaml pointed at a server, with an optional edit of its text. The
 * spec's rate limit is raised (the fake serves one test, not Asana's quota) unless
 * `realLimits` is set: tests of the limiter keep it.
 */
export async function asanaSpec(
  baseUrl: string,
  token: string,
  edit: (s: string) => string = (s) => s,
  realLimits = false,
): Promise<Spec> {
  const raw = await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`);
  const limited = realLimits ? raw : fastLimits(raw);
  const text = edit(limited)
    .replace("${ASANA_BASE_URL:-https://app.asana.com/api/1.0}", baseUrl)
    .replace("${ASANA_ACCESS_TOKEN}", token);
  return parseSpec(text, "asana.yaml", { configDir: "/x" }).spec;
}

/**
 * Every row of every asana_data table (system columns left out), as sorted text; with
 * `like`, only the tables it has and, of each, the columns its rows have.
 */
export async function tableContents(
  dest: Destination,
  like?: Record<string, string[]>,
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const summary = await describeDataset(dest, "asana_data");
  for (const t of summary.tables) {
    if (like && !(t.name in like)) continue;
    const columns = like
      ? [...new Set(like[t.name].flatMap((r) => Object.keys(JSON.parse(r))))]
      : undefined;
    // rows as JSON without nulls and system columns: column order and all-null columns don't matter
    const rows = await dest.query<{ r: string }>(
      `select (select jsonb_object_agg(key, value) from jsonb_each(jsonb_strip_nulls(to_jsonb(x)))
               where key not like '\\_dlt%'${columns ? " and key = any($1)" : ""})::text as r
       from asana_data."${t.name}" x order by 1`,
      columns ? [columns] : [],
    );
    out[t.name] = rows.rows.map((r) => r.r);
  }
  return out;
}

/** The tables a spec's run loads (enabled resources' root tables). */
export function loadedTables(spec: Spec): string[] {
  return [...buildPlan(spec).resources.values()].filter((r) => r.load).map((r) => r.table);
}

/** The fake's ground truth for the tables a spec loads. */
export function truthFor(spec: Spec, truth: Record<string, number>): Record<string, number> {
  const tables = loadedTables(spec);
  return Object.fromEntries(Object.entries(truth).filter(([t]) => tables.includes(t)));
}

/** An open destination for a test, closed (and its database dropped) at disposal. */
export interface TestDestination {
  dest: Destination;
  /** How the CLI names it: `["--destination", url]`, or `["--db", dir]` for PGlite. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The destinations the destination-independent tests run against. */
export const DESTINATIONS: {
  name: string;
  ignore: boolean;
  open(): Promise<TestDestination>;
}[] = [
  {
    name: "pglite",
    ignore: false,
    async open() {
      const dest = await PgliteDestination.open();
      return { dest, [Symbol.asyncDispose]: () => dest.close() };
    },
  },
  {
    name: "postgres",
    ignore: NO_POSTGRES,
    async open() {
      const db = await freshDatabase();
      const dest = await PostgresDestination.open(db.url);
      return {
        dest,
        [Symbol.asyncDispose]: async () => {
          await dest.close();
          await db[Symbol.asyncDispose]();
        },
      };
    },
  },
];

/** Registers a test once per destination (`[pglite]`, `[postgres]`). */
export function testEachDestination(
  name: string,
  fn: (dest: Destination) => Promise<void>,
): void {
  for (const d of DESTINATIONS) {
    Deno.test({
      name: `${name} [${d.name}]`,
      ignore: d.ignore,
      fn: async () => {
        await using t = await d.open();
        await fn(t.dest);
      },
    });
  }
}

/** The shipped spec's rate limit raised: the fake serves one test, not Asana's quota. */
export function fastLimits(text: string): string {
  return text.replace(/^(\s+)requests_per_minute: \d+$/m, "$1requests_per_minute: 60000");
}

/** A copy of pipelines/asana.yaml in `dir` with the rate limit raised; returns its path. */
export async function fastAsanaFile(dir: string): Promise<string> {
  const path = `${dir}/asana.yaml`;
  await Deno.writeTextFile(
    path,
    fastLimits(await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`)),
  );
  return path;
}

/**
 * Tables without `subtasks*`. Known limit (README): a subtask is refetched when its parent
 * task changes; editing a subtask alone does not change the parent's modified_at, so its
 * row waits for the next --full-refresh. Mutations edit listed tasks, some also subtasks.
 */
export function withoutSubtasks(c: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(c).filter(([t]) => !t.startsWith("subtasks")));
}

/** Asana's OpenAPI description, as the repository keeps it (reference/, gzipped). */
export async function asanaOas(): Promise<string> {
  const bytes = await Deno.readFile(`${ROOT}reference/asana_oas.yaml.gz`);
  return await new Response(
    new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
}

/** Every table of a fresh full load of pipelines/asana.yaml (optionally edited), as text. */
export async function freshLoad(
  baseUrl: string,
  token: string,
  edit?: (s: string) => string,
): Promise<Record<string, string[]>> {
  const dest = await PgliteDestination.open();
  await runPipeline(await asanaSpec(baseUrl, token, edit), { destination: dest });
  const contents = await tableContents(dest);
  await dest.close();
  return contents;
}

/** The tables (or views) whose rows differ between two `tableContents`. */
export function differing(a: Record<string, string[]>, b: Record<string, string[]>): string[] {
  const tables = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return tables.filter((t) => JSON.stringify(a[t]) !== JSON.stringify(b[t]));
}
