/**
 * `deno task bench`: loads pipelines/asana.yaml from the fake Asana (its own process)
 * at several scales, and micro-benchmarks the loader against a raw PGlite insert.
 *
 * Flags: --tasks 1000,10000 --latency 100 --jitter 20 --rpm 1500 --in-flight 50
 *        --runs 1 --micro 50000 (records; 0 skips it) --skip-e2e --skip-dashboard
 *        --skip-incremental --incremental-tasks 2000,10000
 *        --destination postgresql://… (end to end into that server, and the loader
 *        micro-benchmark against it beside a raw COPY; its `asana_data` and `bench_raw`
 *        schemas are dropped first)
 *
 * Columns: requests against the data's request floor, the request phase against the floor
 * T of issue 11, the second run's share of the first one's requests after 1% churn, and
 * whether each run's tables equal the fake's truth. Every call to the fake must succeed.
 * Then the incremental columns (`bench_incremental.ts`): the second run's share after 1%
 * of mixed changes, a day of hourly runs, a run after a 25-hour gap, and the rows that
 * differ from a fresh full load.
 *
 * @module
 */
import { parseArgs, stringFlag } from "../src/cli/args.ts";
import { FakeData } from "../testing/fake_asana/data.ts";
import { parseOptFields, Renderer } from "../testing/fake_asana/render.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { copyValue, noDelaySocket, PostgresDestination } from "../src/load/postgres.ts";
import postgres from "postgres";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { quoteIdent as q } from "../src/normalize/naming.ts";
import { Normalizer, type TableRows } from "../src/normalize/normalize.ts";
import { DEFAULT_FLUSH_ROWS, StagingBuffer } from "../src/pipeline.ts";
import { emptySchema } from "../src/normalize/schema.ts";
import { buildPlan, type PlannedResource } from "../src/plan/plan.ts";
import { parseSpec } from "../src/spec/load.ts";
import { benchDashboard } from "./bench_dashboard.ts";
import { benchIncremental, CHANGES, type IncrementalFigures } from "./bench_incremental.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const args = parseArgs(Deno.args, {
  tasks: "value",
  latency: "value",
  jitter: "value",
  rpm: "value",
  "in-flight": "value",
  runs: "value",
  micro: "value",
  "skip-e2e": "flag",
  "skip-dashboard": "flag",
  "skip-incremental": "flag",
  "incremental-tasks": "value",
  destination: "value",
});
const str = (k: string, d: string) => stringFlag(args, k) ?? d;
const scales = str("tasks", "1000,10000").split(",").map(Number);
const latency = Number(str("latency", "100"));
const jitter = Number(str("jitter", "20"));
const rpm = Number(str("rpm", "1500"));
const inFlight = Number(str("in-flight", "50"));
const runs = Number(str("runs", "1"));
const microRecords = Number(str("micro", "50000"));
const server = args.flags.get("destination") as string | undefined;

/** Drops the bench's schemas on the server, so that each run starts empty. */
async function resetServer(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql.unsafe(
    `drop schema if exists asana_data cascade; drop schema if exists bench_raw cascade`,
  )
    .simple();
  await sql.end();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

interface E2E {
  tasks: number;
  requests: number;
  /** The data's request floor: one request per 100 records of each listing that has any. */
  requestFloor: number;
  /** Seconds from the first request to the last response (at the server). */
  phase: number;
  /** The physical floor T of the request phase (see {@linkcode floorSeconds}). */
  floor: number;
  /** The window's floor (see {@linkcode windowFloorSeconds}). */
  windowFloor: number;
  wall: number;
  throttled: number;
  retries: number;
  rowsPerSecond: number;
  peakRssMb: number;
  exact: boolean;
  /** Requests of a second run after 1% of the tasks changed, as a share of the first run's. */
  incrementalShare: number;
  /** After the second run, every table holds the changed organisation's truth. */
  secondExact: boolean;
}

/**
 * The floor of a run of R requests with chain depth D under N a minute and M in flight:
 * T = max(R × latency ÷ M, (R − N) × 60 ÷ N) + D × latency (issue 11).
 */
function floorSeconds(r: number, d: number): number {
  const l = latency / 1000;
  return Math.max(r * l / inFlight, (r - rpm) * 60 / rpm) + d * l;
}

/**
 * The sliding window's own floor: request i + N goes a window after request i, so the
 * last of R goes ⌊(R − 1) ÷ N⌋ windows after the first (above T whenever R > N).
 */
function windowFloorSeconds(r: number, d: number): number {
  const l = latency / 1000;
  return Math.max(floorSeconds(r, d), Math.floor((r - 1) / rpm) * 60 + d * l);
}

/** Calls a control route of the fake; any failure stops the bench (no silent step). */
async function fakeCall<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const text = await res.text();
  if (!res.ok) throw new Error(`bench: ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

interface FakeStatsBody {
  requests: number;
  throttled: number;
  firstRequestAt: number;
  lastResponseAt: number;
  requestFloor: number;
  subtaskDepth: number;
  truth: Record<string, number>;
}

async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

async function peakRss(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = status.match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function e2e(tasks: number): Promise<E2E> {
  const fake = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `${ROOT}scripts/fake_server.ts`,
      "--tasks",
      String(tasks),
      "--latency",
      String(latency),
      "--jitter",
      String(jitter),
      "--rpm",
      String(rpm),
      "--in-flight",
      String(inFlight),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const info = JSON.parse(await readLine(fake.stdout)) as {
    baseUrl: string;
    token: string;
    truth: Record<string, number>;
  };
  const dir = await Deno.makeTempDir({ prefix: "restpipe-bench-" });
  const where = server ? ["--destination", server] : ["--db", `${dir}/db`];
  try {
    const spec = (await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`))
      .replace(/^(\s+)requests_per_minute: \d+/m, `$1requests_per_minute: ${rpm}`)
      .replace(/^(\s+)max_in_flight: \d+/m, `$1max_in_flight: ${inFlight}`);
    await Deno.writeTextFile(`${dir}/asana.yaml`, spec);
    // the loader as users run it: `deno task run`'s permissions, this spec, this database
    const loader = (stdout: "piped" | "null") =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          // as `deno task run` runs it (deno.json)
          "--v8-flags=--memory-saver-mode",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-net",
          "--allow-sys",
          `${ROOT}src/cli/main.ts`,
          "run",
          `${dir}/asana.yaml`,
          ...where,
        ],
        env: { ASANA_BASE_URL: info.baseUrl, ASANA_ACCESS_TOKEN: info.token, NO_COLOR: "1" },
        stdout,
        stderr: "piped",
      });
    if (server) await resetServer(server);
    const t0 = performance.now();
    const child = loader("piped").spawn();
    let rss = 0;
    const poll = setInterval(async () => {
      rss = Math.max(rss, await peakRss(child.pid));
    }, 100);
    const out = await child.output();
    clearInterval(poll);
    const wall = (performance.now() - t0) / 1000;
    const stdout = new TextDecoder().decode(out.stdout);
    if (!out.success) throw new Error(`run failed: ${new TextDecoder().decode(out.stderr)}`);
    const fakeUrl = info.baseUrl.replace("/api/1.0", "/__fake");
    const stats = await fakeCall<FakeStatsBody>(`${fakeUrl}/stats`);
    const retries = Number(stdout.match(/(\d+) retries/)?.[1] ?? 0);
    let rows = 0;
    for (const m of stdout.matchAll(/^(\w+)\s+(\d+)\s+\d+\s+\d+\s+[\d.]+$/gm)) {
      rows += Number(m[2]);
    }
    const { spec: benchSpec } = parseSpec(spec.replace("${ASANA_ACCESS_TOKEN}", "x"), "a.yaml", {
      configDir: "/x",
    });
    const plan = buildPlan(benchSpec);
    const enabled = [...plan.resources.values()].map((r) => r.table);
    // tables as the database holds them against the fake's truth, for the enabled resources
    const exactAgainst = async (truth: Record<string, number>) => {
      const show = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}src/cli/main.ts`, "show", ...where, "--json"],
        stdout: "piped",
      }).output();
      const tables = (JSON.parse(new TextDecoder().decode(show.stdout)) as {
        datasets: { tables: { name: string; rows: number }[] }[];
      }).datasets[0].tables;
      const wrong = Object.entries(truth).filter(([t]) => enabled.includes(t)).filter(([t, n]) =>
        (tables.find((x) => x.name === t)?.rows ?? 0) !== n
      );
      if (wrong.length > 0) {
        console.error(`bench: tables differ from the truth: ${JSON.stringify(wrong)}`);
      }
      return wrong.length === 0;
    };
    const exact = await exactAgainst(stats.truth);
    // chain depth: the longest ancestry, the subtask levels below a task, and their children
    const depth = Math.max(
      ...[...plan.resources.values()].map((r) =>
        r.ancestors.length + 1 +
        (r.parents.includes(r.name) || r.ancestors.includes("subtasks") ? stats.subtaskDepth : 0)
      ),
    );
    // the incremental run: touch 1% of the tasks, add, delete and comment on a few
    const changed = Math.max(1, Math.round(tasks / 1000));
    const mutated = await fakeCall<{ touched: string[]; truth: Record<string, number> }>(
      `${fakeUrl}/mutate?touch=0.01&add=${changed}&remove=${changed}&stories=${changed}`,
    );
    if (mutated.touched.length === 0) throw new Error("bench: the fake changed no task");
    const second = await loader("null").output();
    if (!second.success) throw new Error(new TextDecoder().decode(second.stderr));
    const after = await fakeCall<FakeStatsBody>(`${fakeUrl}/stats`);
    return {
      tasks,
      requests: stats.requests,
      requestFloor: stats.requestFloor,
      phase: (stats.lastResponseAt - stats.firstRequestAt) / 1000,
      floor: floorSeconds(stats.requests, depth),
      windowFloor: windowFloorSeconds(stats.requests, depth),
      wall,
      throttled: stats.throttled,
      retries,
      rowsPerSecond: rows / wall,
      peakRssMb: rss,
      exact,
      incrementalShare: (after.requests - stats.requests) / stats.requests,
      secondExact: await exactAgainst(after.truth),
    };
  } finally {
    fake.kill("SIGTERM");
    await fake.status;
    await Deno.remove(dir, { recursive: true });
  }
}

async function micro(
  records: number,
  into?: string,
): Promise<{ loader: number; raw: number; rows: number }> {
  // realistic task records: the fake's tasks, projected with asana.yaml's field list
  const { spec } = parseSpec(
    (await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`)).replace("${ASANA_ACCESS_TOKEN}", "x"),
    "asana.yaml",
    { configDir: "/x" },
  );
  const plan = buildPlan(spec, ["tasks"]);
  const resource = plan.resources.get("tasks")!;
  const data = new FakeData({
    teams: 1,
    projectsPerTeam: 10,
    tasksPerProject: 100,
    storiesPerTask: 0,
  });
  const renderer = new Renderer(data.objects);
  const tree = parseOptFields(resource.fields!.join(","));
  const base = data.all("task").map((t) => renderer.project(t, tree));
  const make = () =>
    Array.from(
      { length: records },
      (_, i) => ({ ...base[i % base.length], gid: String(9e15 + i) }),
    );

  // restpipe: normalise, stage, commit (merge)
  if (into) await resetServer(into);
  const dest = into ? await PostgresDestination.open(into) : await PgliteDestination.open();
  const input = make();
  const t0 = performance.now();
  const normalizer = new Normalizer(emptySchema(), "1");
  normalizer.rootTable(resource);
  await dest.begin(spec.dataset, normalizer.schema);
  // the pipeline's own path: pages of 100 records into the staging buffer
  const buffer = new StagingBuffer(dest, normalizer, dest.batchRows ?? DEFAULT_FLUSH_ROWS);
  for (let i = 0; i < input.length; i += 100) {
    await buffer.add(resource, input.slice(i, i + 100), "p");
  }
  await buffer.flush();
  await dest.commit({
    pipeline: "bench",
    dataset: spec.dataset,
    loadId: "1",
    startedAt: new Date(),
    schema: normalizer.schema,
    roots: [{
      table: "tasks",
      resource: "tasks",
      disposition: "merge",
      keyColumns: normalizer.keyColumns(resource),
    }],
    state: () => ({}),
    rowIdPrefix: normalizer.idPrefix,
  });
  const loaderSeconds = (performance.now() - t0) / 1000;
  await dest.close();
  if (into) {
    const r = await rawCopy(into, normalizer.schema, make, resource);
    return { loader: r.rows / loaderSeconds, raw: r.raw, rows: r.rows };
  }

  // raw PGlite: the same rows, straight into tables of the same columns, in the same process
  const raw = await PgliteDestination.open();
  const schema = normalizer.schema;
  await raw.db.exec(`create schema raw`);
  for (const [name, t] of Object.entries(schema.tables)) {
    const cols = Object.entries(t.columns).map(([c, { type }]) => `${q(c)} ${type}`).join(", ");
    await raw.db.exec(`create table raw.${q(name)} (${cols})`);
  }
  const { buffers, rows } = normalizeAll(resource, make());
  const t1 = performance.now();
  for (const [table, list] of buffers) {
    for (let i = 0; i < list.length; i += 5000) {
      await raw.db.query(
        `insert into raw.${q(table)} select * from jsonb_populate_recordset(null::raw.${
          q(table)
        }, $1::jsonb)`,
        [JSON.stringify(list.slice(i, i + 5000))],
      );
    }
  }
  const rawSeconds = (performance.now() - t1) / 1000;
  await raw.close();
  return { loader: rows / loaderSeconds, raw: rows / rawSeconds, rows };
}

/** Every record normalised into rows, outside the clock of the raw baselines. */
function normalizeAll(
  resource: PlannedResource,
  input: Record<string, unknown>[],
): { buffers: TableRows; rows: number; normalizer: Normalizer } {
  const normalizer = new Normalizer(emptySchema(), "1");
  const buffers: TableRows = new Map();
  for (let i = 0; i < input.length; i += 1000) {
    normalizer.normalize(resource, input.slice(i, i + 1000), buffers);
  }
  let rows = 0;
  for (const list of buffers.values()) rows += list.length;
  return { buffers, rows, normalizer };
}

/**
 * Raw COPY into the server: the same rows (normalised beforehand, outside the clock),
 * straight into tables of the same columns through postgres.js, in this process.
 */
async function rawCopy(
  url: string,
  schema: ReturnType<typeof emptySchema>,
  make: () => Record<string, unknown>[],
  resource: PlannedResource,
): Promise<{ raw: number; rows: number }> {
  // the same socket as the destination's (Nagle off): else each COPY waits for an ACK
  const sql = postgres(
    url,
    Object.assign({ max: 1, onnotice: () => {} }, { socket: noDelaySocket }),
  );
  await sql.unsafe(`create schema bench_raw`);
  for (const [name, t] of Object.entries(schema.tables)) {
    const cols = Object.entries(t.columns).map(([c, { type }]) => `${q(c)} ${type}`).join(", ");
    await sql.unsafe(`create table bench_raw.${q(name)} (${cols})`);
  }
  const { buffers, rows, normalizer: n2 } = normalizeAll(resource, make());
  const t1 = performance.now();
  for (const [table, list] of buffers) {
    const columns = Object.keys(n2.schema.tables[table].columns);
    const json = columns.map((c) => n2.schema.tables[table].columns[c].type === "jsonb");
    const lines = list.map((r) => columns.map((c, i) => copyValue(r[c], json[i])).join("\t"))
      .join("\n") + "\n";
    const writable = await sql.unsafe(
      `copy bench_raw.${q(table)} (${columns.map(q).join(", ")}) from stdin`,
    ).writable();
    await pipeline(Readable.from([lines]), writable);
  }
  const rawSeconds = (performance.now() - t1) / 1000;
  await sql.end();
  return { raw: rows / rawSeconds, rows };
}

if (!args.flags.has("skip-e2e")) {
  console.log(
    `end to end: latency ${latency}±${jitter} ms, server and spec limits ${rpm}/min and ${inFlight} in flight; ` +
      `median of ${runs} run(s)\n` +
      `floor T = max(R × latency ÷ M, (R − N) × 60 ÷ N) + D × latency; window floor = max(T, ` +
      `⌊(R − 1) ÷ N⌋ × 60 + D × latency); request floor = one request ` +
      `per 100 records of each listing that has any; phase = first request to last response\n`,
  );
  console.log(
    "| tasks | requests | request floor | req ÷ floor | phase s | floor T s | phase ÷ T | window floor s | phase ÷ window floor | wall s | 429s | retries | rows/s | peak RSS MB | exact | 2nd run (1% changed) | 2nd exact |",
  );
  console.log(
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--:|---:|:--:|",
  );
  for (const tasks of scales) {
    const results: E2E[] = [];
    for (let i = 0; i < runs; i++) results.push(await e2e(tasks));
    const m = (f: (r: E2E) => number) => median(results.map(f));
    const cells = [
      tasks,
      m((r) => r.requests),
      m((r) => r.requestFloor),
      m((r) => r.requests / r.requestFloor).toFixed(3),
      m((r) => r.phase).toFixed(1),
      m((r) => r.floor).toFixed(1),
      m((r) => r.phase / r.floor).toFixed(2),
      m((r) => r.windowFloor).toFixed(1),
      m((r) => r.phase / r.windowFloor).toFixed(2),
      m((r) => r.wall).toFixed(1),
      m((r) => r.throttled),
      m((r) => r.retries),
      m((r) => r.rowsPerSecond).toFixed(0),
      m((r) => r.peakRssMb).toFixed(0),
      results.every((r) => r.exact) ? "yes" : "NO",
      `${(m((r) => r.incrementalShare) * 100).toFixed(1)}%`,
      results.every((r) => r.secondExact) ? "yes" : "NO",
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
}
if (microRecords > 0) {
  const results = [];
  for (let i = 0; i < Math.max(runs, 3); i++) results.push(await micro(microRecords));
  const pg = [];
  if (server) {
    for (let i = 0; i < Math.max(runs, 3); i++) pg.push(await micro(microRecords, server));
  }
  const loader = median(results.map((r) => r.loader));
  const raw = median(results.map((r) => r.raw));
  console.log(
    `\nloader micro-benchmark: ${microRecords} task records → ${
      results[0].rows
    } rows (root + child tables)`,
  );
  console.log(`| path | rows/s (median of ${results.length}) |\n|---|---:|`);
  console.log(`| restpipe normalise + stage + commit (merge) | ${loader.toFixed(0)} |`);
  console.log(`| raw PGlite insert (jsonb_populate_recordset) | ${raw.toFixed(0)} |`);
  console.log(`ratios per run: ${results.map((r) => (r.loader / r.raw).toFixed(2)).join(", ")}`);
  if (pg.length > 0) {
    console.log(`\nPostgreSQL (${new URL(server!).host}):`);
    console.log(`| path | rows/s (median of ${pg.length}) |\n|---|---:|`);
    console.log(
      `| restpipe normalise + COPY + commit (merge) | ${
        median(pg.map((r) => r.loader)).toFixed(0)
      } |`,
    );
    console.log(`| raw COPY of the same rows | ${median(pg.map((r) => r.raw)).toFixed(0)} |`);
    console.log(`ratios per run: ${pg.map((r) => (r.loader / r.raw).toFixed(2)).join(", ")}`);
  }
}
if (!args.flags.has("skip-incremental")) {
  console.log(
    `\nincremental (fake in process, whole shipped spec; median of ${runs} run(s), each in an ` +
      `organisation of its own: seeds 42 on): 1% of the ` +
      `listed tasks changed, the kinds in turn: ${Object.keys(CHANGES).join(", ")}. ` +
      `"day": 24 hourly runs with the day's 1% spread over them, as a share of one full load. ` +
      `"rows differing": every row of every table against a fresh full load.\n`,
  );
  console.log(
    "| tasks | first run requests | changes | 2nd run share | rows differing after it (of) | day of hourly runs share | rows differing after the day | 25-h gap share | projects listed whole after the gap |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const n of str("incremental-tasks", "2000,10000").split(",").map(Number)) {
    const results: IncrementalFigures[] = [];
    // one organisation per run (seeds 42, 43, …): counts depend on nothing else
    for (let i = 0; i < runs; i++) results.push(await benchIncremental(n, 42 + i));
    const m = (f: (r: IncrementalFigures) => number) => median(results.map(f));
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    console.log(
      `| ${
        [
          m((r) => r.tasks),
          m((r) => r.firstRequests),
          m((r) => r.changes),
          pct(m((r) => r.secondShare)),
          `${m((r) => r.secondWrong)} (${m((r) => r.rows)})`,
          pct(m((r) => r.dayShare)),
          m((r) => r.dayWrong),
          pct(m((r) => r.gapShare)),
          `${m((r) => r.gapRelisted)} of ${m((r) => r.projects)}`,
        ].join(" | ")
      } |`,
    );
    const wrong = results.flatMap((r) => r.wrongTables);
    if (wrong.length > 0) console.log(`rows differing, by table: ${wrong.join(", ")}`);
  }
}
if (!args.flags.has("skip-dashboard")) {
  const web = await benchDashboard(Math.max(runs, 5));
  if (typeof web === "string") console.log(`\ndashboard: ${web}`);
  else {
    console.log(
      `\ndashboard (show --web started afresh each run, headless Chromium): first render of ` +
        `${web.tables} tables, navigation start → rendered: median ${
          median(web.renders).toFixed(0)
        } ms (runs: ${web.renders.map((r) => r.toFixed(0)).join(", ")}); assets ${
          (web.assetBytes / 1024).toFixed(1)
        } KB`,
    );
  }
}
