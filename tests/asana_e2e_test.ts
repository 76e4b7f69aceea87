import assert from "node:assert/strict";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { loadSpec, parseSpec } from "../src/spec/load.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { describeDataset } from "../src/show.ts";
import { cliCommand, fastAsanaFile, ROOT, runCli, tempDir } from "./helpers.ts";

const SPEC = `${ROOT}pipelines/asana.yaml`;
const ROOT_TABLES = [
  "workspaces",
  "projects",
  "sections",
  "tags",
  "tasks",
  "stories",
  "teams",
  "users",
];

async function counts(dbDir: string): Promise<Record<string, number>> {
  const dest = await PgliteDestination.open(dbDir);
  try {
    const summary = await describeDataset(dest, "asana_data");
    return Object.fromEntries(summary.tables.map((t) => [t.name, t.rows]));
  } finally {
    await dest.close();
  }
}

/** The Asana spec with quick retries, for runs that are meant to fail. */
async function quickRetrySpec(dir: string): Promise<string> {
  const text = (await Deno.readTextFile(SPEC)).replace(
    "    attempts: 6\n",
    "    attempts: 2\n    backoff_seconds: 0.01\n",
  );
  const file = `${dir}/asana-quick.yaml`;
  await Deno.writeTextFile(file, text);
  return file;
}

async function filesContain(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const bytes = new TextEncoder().encode(needle);
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) hits.push(...await filesContain(path, needle));
    else if (entry.isFile) {
      const data = await Deno.readFile(path);
      outer: for (let i = 0; i + bytes.length <= data.length; i++) {
        for (let j = 0; j < bytes.length; j++) if (data[i + j] !== bytes[j]) continue outer;
        hits.push(path);
        break;
      }
    }
  }
  return hits;
}

Deno.test("asana.yaml loads every table of the fake Asana; a second run changes no counts", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana();
  try {
    Deno.env.set("ASANA_BASE_URL", fake.baseUrl);
    Deno.env.set("ASANA_ACCESS_TOKEN", fake.token);
    const { spec } = await loadSpec(SPEC);
    spec.source.limits.requests_per_minute = 60_000; // the fake serves this test alone
    const db = `${dir.path}/db`;
    const first = await runPipeline(spec, { dbDir: db });
    const truth = fake.groundTruth();
    const after1 = await counts(db);
    for (const t of ROOT_TABLES) assert.equal(after1[t], truth[t], `table ${t}`);
    // child tables carry the lists: memberships of multi-homed tasks, followers, custom fields
    assert.equal(after1.tasks__memberships > after1.tasks, true);
    assert.equal(after1.tasks__custom_fields > 0, true);
    assert.equal(after1.users__workspaces > 0, true);
    // a task in two projects has its stories fetched once: every story is received once
    // (rows written would hide it: the commit keeps one row per key)
    const storiesRun = first.resources.find((r) => r.resource === "stories")!;
    assert.equal(storiesRun.received, truth.stories);
    assert.equal(storiesRun.rows, truth.stories);

    const stories = fake.requests.get("/tasks/{gid}/stories");
    const second = await runPipeline(spec, { dbDir: db });
    assert.deepEqual(await counts(db), after1);
    // nothing changed: the tasks listed again at each project's cursor are the ones loaded
    // with their children last time, so no child request is made for them
    const tasks = second.resources.find((r) => r.resource === "tasks")!;
    assert.equal(tasks.unchanged > 0, true, "no task was listed again at the cursor");
    assert.equal(fake.requests.get("/tasks/{gid}/stories"), stories, "stories were requested");

    // the data is queryable as users expect
    const dest = await PgliteDestination.open(db);
    const r = await dest.db.query<{ name: string; n: number }>(
      `select t.name, count(s.*)::int as n from asana_data.tasks t
       join asana_data.stories s on s.task_gid = t.gid group by t.name order by n desc limit 1`,
    );
    assert.equal(r.rows[0].n, 3);
    const big = await dest.db.query<{ len: number }>(
      `select max(length(notes))::int as len from asana_data.tasks`,
    );
    assert.equal(big.rows[0].len > 20_000, true);
    const emoji = await dest.db.query<{ n: number }>(
      `select count(*)::int as n from asana_data.users where name = 'Zoë Ångström 🌟'`,
    );
    assert.equal(emoji.rows[0].n, 1);
    const types = await dest.db.query<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns
       where table_schema = 'asana_data' and table_name = 'tasks'
         and column_name in ('created_at', 'completed', 'gid', 'num_subtasks')
       order by column_name`,
    );
    assert.deepEqual(types.rows.map((x) => [x.column_name, x.data_type]), [
      ["completed", "boolean"],
      ["created_at", "timestamp with time zone"],
      ["gid", "text"],
      ["num_subtasks", "bigint"],
    ]);
    // dates without a time are typed date (columns: hints), so they compare as dates
    const dates = await dest.db.query<{ t: string; c: string; type: string }>(
      `select table_name as t, column_name as c, data_type as type
       from information_schema.columns where table_schema = 'asana_data'
       and column_name in ('due_on', 'start_on', 'end_on')
       and table_name in ('tasks', 'subtasks', 'projects', 'goals', 'time_periods')`,
    );
    assert.equal(dates.rows.length >= 7, true, JSON.stringify(dates.rows));
    assert.deepEqual(dates.rows.filter((x) => x.type !== "date"), []);
    const due = await dest.db.query<{ n: number }>(
      `select count(*)::int as n from asana_data.tasks where due_on < date '2025-04-01'`,
    );
    assert.equal(due.rows[0].n > 0, true);
    await dest.close();

    // show --json reports the same counts, from a separate process
    const show = await runCli(["show", "--db", db, "--json"]);
    assert.equal(show.code, 0, show.stderr);
    const json = JSON.parse(show.stdout) as {
      datasets: { tables: { name: string; rows: number }[] }[];
    };
    const shown = Object.fromEntries(json.datasets[0].tables.map((t) => [t.name, t.rows]));
    for (const t of ROOT_TABLES) assert.equal(shown[t], truth[t], `show ${t}`);

    assert.deepEqual(await filesContain(db, fake.token), [], "the token is in the database files");
  } finally {
    Deno.env.delete("ASANA_BASE_URL");
    Deno.env.delete("ASANA_ACCESS_TOKEN");
    await fake.close();
  }
});

Deno.test("the CLI run prints a per-resource summary; show prints the tables", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ tasksPerProject: 3 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const file = await fastAsanaFile(dir.path);
    const run = await runCli(["run", file, "--db", `${dir.path}/db`], env, dir.path);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^resource\s+rows\s+received\s+requests\s+seconds$/m);
    const line = (resource: string) => {
      const m = run.stdout.match(
        new RegExp(`^${resource}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+([\\d.]+)$`, "m"),
      );
      assert.ok(m, `no summary line for ${resource}:\n${run.stdout}`);
      return { rows: Number(m[1]), received: Number(m[2]), requests: Number(m[3]) };
    };
    // rows are what the table holds: a task listed by two projects is received twice
    const truth = fake.groundTruth();
    const tasks = line("tasks");
    assert.equal(tasks.rows, truth.tasks);
    assert.equal(tasks.received > tasks.rows, true, "no task of the fake sits in two projects");
    assert.equal(line("stories").rows, truth.stories);
    assert.equal(line("portfolios").rows, truth.portfolios);
    // disabled or not, every resource's seconds are real durations (never negative)
    assert.doesNotMatch(run.stdout, /\s-\d+\.\d+$/m);
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(fake.token));
    const show = await runCli(["show", SPEC, "--db", `${dir.path}/db`], {}, dir.path);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^dataset asana_data$/m);
    assert.match(show.stdout, /^ {2}tasks__memberships\s+\d+/m);
    assert.match(show.stdout, /last load [\d.]+: completed/);
  } finally {
    await fake.close();
  }
});

Deno.test("--resources runs only the named resources; ancestors are fetched, not loaded", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ tasksPerProject: 2 });
  try {
    Deno.env.set("ASANA_BASE_URL", fake.baseUrl);
    Deno.env.set("ASANA_ACCESS_TOKEN", fake.token);
    const { spec } = await loadSpec(SPEC);
    spec.source.limits.requests_per_minute = 60_000; // the fake serves this test alone
    const result = await runPipeline(spec, { dbDir: `${dir.path}/db`, resources: ["sections"] });
    assert.deepEqual(result.resources.map((r) => [r.resource, r.loaded]), [
      ["workspaces", false],
      ["projects", false],
      ["sections", true],
    ]);
    const c = await counts(`${dir.path}/db`);
    assert.equal(c.sections, fake.groundTruth().sections);
    assert.equal(c.projects, undefined);
  } finally {
    Deno.env.delete("ASANA_BASE_URL");
    Deno.env.delete("ASANA_ACCESS_TOKEN");
    await fake.close();
  }
});

Deno.test("a run that fails halfway leaves the previous load intact and says what failed", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana();
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const spec = await quickRetrySpec(dir.path);
    const db = `${dir.path}/db`;
    const ok = await runCli(["run", spec, "--db", db], env, dir.path);
    assert.equal(ok.code, 0, ok.stderr);
    const before = await counts(db);

    // change the data so that a committed second load would show, then break stories
    // (a changed task's stories are requested again)
    fake.data.all("project")[0].name = "renamed";
    fake.data.touchTask([...fake.data.tasksOf.values()][0][0]);
    fake.faults.push({ match: /\/stories$/, status: 500 });
    const failed = await runCli(["run", spec, "--db", db], env, dir.path);
    // 5xx left after every retry: a temporary failure (sysexits' EX_TEMPFAIL)
    assert.equal(failed.code, 75);
    assert.match(
      failed.stderr,
      /^run failed \(temporary: retry later\); the previous load is intact\./,
    );
    assert.match(
      failed.stderr,
      /stories \(parent \d+\): GET http:\/\/127\.0\.0\.1:\d+\/api\/1\.0\/tasks\/\d+\/stories\?limit=100&opt_fields=\S+ failed: HTTP 500: Server Error/,
    );
    assert.doesNotMatch(failed.stderr, new RegExp(fake.token));
    assert.doesNotMatch(failed.stderr, /^\s+at /m);

    assert.deepEqual(await counts(db), before);
    const dest = await PgliteDestination.open(db);
    const names = await dest.db.query<{ n: number }>(
      `select count(*)::int as n from asana_data.projects where name = 'renamed'`,
    );
    assert.equal(names.rows[0].n, 0);
    const loads = await dest.loads("asana_data");
    assert.deepEqual(loads.map((l) => l.status), ["failed", "completed"]);
    assert.match(loads[0].error ?? "", /stories/);
    // no row of the failed load is left in any table
    const tables = await dest.db.query<{ table_name: string }>(
      `select table_name from information_schema.columns
       where table_schema = 'asana_data' and column_name = '_dlt_load_id'`,
    );
    assert.equal(tables.rows.length > 10, true);
    for (const { table_name } of tables.rows) {
      const left = await dest.db.query<{ n: number }>(
        `select count(*)::int as n from asana_data."${table_name}" where _dlt_load_id = $1`,
        [loads[0].load_id],
      );
      assert.equal(left.rows[0].n, 0, table_name);
    }
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("a run killed mid-load leaves the previous load; the next run completes exactly", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ latencyMs: 20 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const db = `${dir.path}/db`;
    const ok = await runCli(["run", SPEC, "--db", db], env, dir.path);
    assert.equal(ok.code, 0, ok.stderr);
    const before = await counts(db);

    fake.data.all("project")[0].name = "renamed";
    // a full refresh: it rewrites every table, so there is much to lose if it were not atomic
    const child = cliCommand([
      "run",
      SPEC,
      "--db",
      db,
      "--full-refresh",
    ], {
      env,
      cwd: dir.path,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // wait until the run is fetching stories (rows are being staged), then kill it
    const started = Date.now();
    while (
      (fake.requests.get("/tasks/{gid}/stories") ?? 0) < before.tasks + 20 &&
      Date.now() - started < 60_000
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL", "the run finished before it could be killed");

    assert.deepEqual(await counts(db), before);
    const dest = await PgliteDestination.open(db);
    const renamed = await dest.db.query(`select 1 from asana_data.projects where name = 'renamed'`);
    assert.equal(renamed.rows.length, 0);
    await dest.close();
    const rerun = await runCli(["run", SPEC, "--db", db], env, dir.path);
    assert.equal(rerun.code, 0, rerun.stderr);
    const after = await counts(db);
    const truth = fake.groundTruth();
    for (const t of ROOT_TABLES) assert.equal(after[t], truth[t], `table ${t}`);
  } finally {
    await fake.close();
  }
});

Deno.test("an unreachable API fails the run with exit code 75 (temporary) and the URL", async () => {
  await using dir = await tempDir();
  const spec = await quickRetrySpec(dir.path);
  const r = await runCli(["run", spec, "--db", `${dir.path}/db`], {
    ASANA_BASE_URL: "http://127.0.0.1:9/api/1.0",
    ASANA_ACCESS_TOKEN: "secret-token-value",
  }, dir.path);
  assert.equal(r.code, 75);
  assert.match(
    r.stderr,
    /workspaces: GET http:\/\/127\.0\.0\.1:9\/api\/1\.0\/workspaces\?limit=100&opt_fields=\S+ failed: connection failed/,
  );
  assert.doesNotMatch(r.stderr, /secret-token-value/);
});

Deno.test("a refused connection is said as such at once, with the base URL's whole path and the variable that set it", async () => {
  await using dir = await tempDir();
  // a port nothing listens on
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const started = performance.now();
  // the shipped spec, with its 6 attempts: none is spent on a server that never answered
  const r = await runCli(["run", SPEC, "--db", `${dir.path}/db`], {
    ASANA_BASE_URL: `http://127.0.0.1:${port}/api/1.0`,
    ASANA_ACCESS_TOKEN: "secret-token-value",
  }, dir.path);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(r.code, 75);
  assert.match(
    r.stderr,
    new RegExp(`failed: connection refused by 127\\.0\\.0\\.1:${port}: nothing listens there\n`),
  );
  assert.match(
    r.stderr,
    new RegExp(
      `hint: nothing answered at http://127\\.0\\.0\\.1:${port}/api/1\\.0 \\(source\\.base_url, ` +
        `from \\$\\{ASANA_BASE_URL\\} in the environment\\)`,
    ),
  );
  assert.doesNotMatch(r.stderr, /after \d+ attempts/);
  assert.equal(seconds < 20, true, `${seconds} s`);
  assert.doesNotMatch(r.stderr, /secret-token-value/);
});

Deno.test("a wrong token fails with the API's 401 message", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana();
  try {
    const { spec } = parseSpec(
      (await Deno.readTextFile(SPEC))
        .replace("${ASANA_BASE_URL:-https://app.asana.com/api/1.0}", fake.baseUrl)
        .replace("${ASANA_ACCESS_TOKEN}", "wrong-token"),
      "asana.yaml",
      { configDir: "/x" },
    );
    await assert.rejects(
      runPipeline(spec, { dbDir: `${dir.path}/db` }),
      /workspaces: GET .* failed: HTTP 401: Not Authorized/,
    );
  } finally {
    await fake.close();
  }
});
