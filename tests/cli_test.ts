import assert from "node:assert/strict";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { formatProgress, formatProgressLine, ProgressReporter } from "../src/cli/progress.ts";
import type { Progress } from "../src/pipeline.ts";
import { cliCommand, fastAsanaFile, ROOT, runCli, tempDir } from "./helpers.ts";

const SPEC = `${ROOT}pipelines/asana.yaml`;

Deno.test("check validates, says where each variable was found, and prints the resource tree", async () => {
  const r = await runCli(["check", SPEC], { ASANA_ACCESS_TOKEN: "tok-123456" });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pipelines\/asana\.yaml: valid \(pipeline asana, dataset asana_data\)/);
  assert.match(r.stdout, /\$\{ASANA_ACCESS_TOKEN\}: found \(environment\)/);
  assert.match(
    r.stdout,
    /└ tasks → tasks: GET \/tasks\?limit=100&modified_since=\{incremental\.start\}\n *under projects: GET \/tasks\?limit=100&modified_since=\{incremental\.start\}&project=\{projects\.gid\}\n *under users: GET \/tasks\?limit=100&modified_since=\{incremental\.start\}&assignee=\{users\.gid\}&workspace=\{item\.gid\}, for each \{users\.workspaces\}, every 1d/,
  );
  assert.match(
    r.stdout,
    /incremental on modified_at from 2010-01-01T00:00:00\.000Z \(lag 60 s\), reconciled \(deletions; after the first run one listing of whole records, no incremental filter; watching num_subtasks; a record no listing returns is asked for by GET \/tasks\/\{record\.gid\} before it is deleted; where nothing says what changed below, attachments only under records whose cursor moved\)/,
  );
  assert.match(
    r.stdout,
    /custom_field_settings → custom_field_settings: GET \/projects\/\{projects\.gid\}\/custom_field_settings\?limit=100\n *replace, key gid, listed again every 7d, or at once when the parent's custom_field_settings changed/,
  );
  assert.match(
    r.stdout,
    /change feed GET \/events per projects \(each parent listed whole every 10d\)/,
  );
  assert.doesNotMatch(r.stdout, /tok-123456/);
  const missing = await runCli(["check", SPEC]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /ASANA_ACCESS_TOKEN\} is not set/);
});

Deno.test("check --no-secrets validates everything but the secrets (for CI), and still fails a bad spec", async () => {
  const ci = await runCli(["check", SPEC, "--no-secrets"]);
  assert.equal(ci.code, 0, ci.stderr);
  assert.match(ci.stdout, /\$\{ASANA_ACCESS_TOKEN\}: not set \(not checked: --no-secrets\)/);
  assert.match(ci.stdout, /└ tasks → tasks: GET/);
  await using dir = await tempDir();
  const bad = `${dir.path}/bad.yaml`;
  const text = await Deno.readTextFile(SPEC);
  await Deno.writeTextFile(
    bad,
    text.replace("write_disposition: merge", "write_disposition: merg"),
  );
  const r = await runCli(["check", bad, "--no-secrets"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /write_disposition: expected replace, append, merge or scd2/);
  assert.doesNotMatch(r.stderr, /is not set/);
});

Deno.test("plan and run --dry-run estimate requests, from the last load once there is one", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ tasksPerProject: 4 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const db = `${dir.path}/db`;
    const before = await runCli(["plan", SPEC, "--db", db], env);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /no load yet: one request per parent assumed/);
    assert.match(before.stdout, /total: unknown until the parents have been listed once/);
    const run = await runCli(["run", SPEC, "--db", db, "--quiet"], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^load [\d.]+: \d+ rows in [\d.]+ s$/m);
    assert.equal(run.stderr, "");
    const after = await runCli(["run", SPEC, "--db", db, "--dry-run", "--json"], env);
    assert.equal(after.code, 0, after.stderr);
    const plan = JSON.parse(after.stdout);
    assert.match(plan.basedOnLoad, /^\d+\.\d+$/);
    const stories = plan.resources.find((r: { resource: string }) => r.resource === "stories");
    // one chain per task and subtask (a multi-homed task, or a subtask also in a project, once)
    const all = new Set([...fake.data.tasksOf.values()].flat());
    for (const gid of all) for (const s of fake.data.subtasksOf.get(gid) ?? []) all.add(s);
    assert.equal(stories.chains, all.size);
    assert.equal(typeof plan.requests, "number");
    const requested = [...fake.requests.values()].reduce((a, b) => a + b, 0);
    assert.equal(
      Math.abs(plan.requests - requested) <= 2,
      true,
      `${plan.requests} vs ${requested}`,
    );
  } finally {
    await fake.close();
  }
});

Deno.test("off a terminal, --verbose logs a progress line every second on stderr", async () => {
  await using dir = await tempDir();
  // slow answers: under the quota the limiter sends at once, and the run must outlast a second
  const fake = await startFakeAsana({ tasksPerProject: 6, latencyMs: 300 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const r = await runCli(["run", SPEC, "--db", `${dir.path}/db`, "--verbose"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^\[\d+\.\d s\] [\d,]+ requests, [\d,]+ requests in the last minute, of 1,500; \d+ retries, \d+ throttled; rows: /m,
    );
    assert.equal(r.stderr.includes("\x1b["), false); // no terminal escapes when piped
  } finally {
    await fake.close();
  }
});

const SNAPSHOT: Progress = {
  seconds: 12,
  requests: 300,
  retries: 2,
  throttled: 1,
  requestsPerMinute: 1500,
  window: {
    inWindow: 300,
    quota: 1500,
    allowed: 1500,
    windowMs: 60_000,
    inFlight: 3,
    maxInFlight: 50,
    waiting: 0,
    waitingFor: undefined,
    nextInMs: undefined,
  },
  resources: [
    {
      resource: "tasks",
      rows: 1200,
      pages: 12,
      requests: 12,
      chains: 10,
      retries: 1,
      throttled: 1,
    },
    {
      resource: "stories",
      rows: 3000,
      pages: 280,
      requests: 288,
      chains: 280,
      retries: 0,
      throttled: 0,
    },
  ],
};

Deno.test("on a terminal, progress redraws one table in place", () => {
  const written: string[] = [];
  const out = {
    writeSync: (p: Uint8Array) => (written.push(new TextDecoder().decode(p)), p.length),
  };
  const reporter = new ProgressReporter("normal", true, 5, out);
  reporter.update(SNAPSHOT);
  reporter.update({ ...SNAPSHOT, seconds: 13 });
  reporter.done();
  const lines = formatProgress(SNAPSHOT);
  assert.equal(
    lines[0],
    "12.0 s  300 requests  300 requests in the last minute, of 1,500  2 retries  1 throttled (429)",
  );
  assert.match(lines[3], /^stories\s+3000\s+280\s+288$/);
  assert.equal(written[0], lines.join("\n") + "\n");
  assert.equal(written[1].startsWith(`\x1b[${lines.length}F\x1b[J`), true);
  assert.equal(written[2], `\x1b[${lines.length}F\x1b[J`);
  assert.equal(
    formatProgressLine(SNAPSHOT),
    "[12.0 s] 300 requests, 300 requests in the last minute, of 1,500; 2 retries, 1 throttled; rows: tasks 1200, stories 3000",
  );
});

Deno.test("progress names what the run waits for: the rate window and when a place frees, a 429's pause, a retry", () => {
  const full = {
    ...SNAPSHOT,
    requests: 1500,
    window: {
      ...SNAPSHOT.window,
      inWindow: 1500,
      waiting: 40,
      waitingFor: "window" as const,
      nextInMs: 53_200,
    },
  };
  assert.equal(
    formatProgressLine(full),
    "[12.0 s] 1,500 requests, 1,500 requests in the last minute, of 1,500; 2 retries, 1 throttled; rows: tasks 1200, stories 3000; waiting for the rate window (1,500/min): next request in 54 s",
  );
  assert.equal(
    formatProgress(full)[1],
    "waiting for the rate window (1,500/min): next request in 54 s",
  );
  const paused = {
    ...SNAPSHOT,
    window: {
      ...SNAPSHOT.window,
      allowed: 1200,
      waiting: 3,
      waitingFor: "pause" as const,
      nextInMs: 30_000,
    },
  };
  assert.match(
    formatProgress(paused)[0],
    /300 requests in the last minute, of 1,500 \(lowered to 1,200 after a 429\)/,
  );
  assert.equal(
    formatProgress(paused)[1],
    "paused after a 429 (too many requests): next request in 30 s",
  );
  const retrying = {
    ...SNAPSHOT,
    retrying: {
      resource: "workspaces",
      reason: "connection refused by 127.0.0.1:1: nothing listens there",
      attempt: 3,
      attempts: 6,
      inSeconds: 3.2,
    },
  };
  assert.match(
    formatProgressLine(retrying),
    /; retrying workspaces \(attempt 3 of 6\) in 4 s: connection refused by 127\.0\.0\.1:1: nothing listens there$/,
  );
});

Deno.test("in a terminal too short for the table, progress is compact: every frame fits", () => {
  const many = {
    ...SNAPSHOT,
    resources: Array.from({ length: 33 }, (_, i) => ({
      ...SNAPSHOT.resources[0],
      resource: `resource_${i}`,
      requests: i % 3 === 0 ? 0 : i,
    })),
  };
  const written: string[] = [];
  const out = {
    writeSync: (p: Uint8Array) => (written.push(new TextDecoder().decode(p)), p.length),
  };
  // an 80×24 terminal: 23 lines at most, so that nothing scrolls
  const reporter = new ProgressReporter("normal", true, 5, out, () => 24);
  reporter.update(many);
  reporter.update({ ...many, seconds: 13 });
  const frame = written[0].trimEnd().split("\n");
  assert.equal(frame.length <= 23, true, `${frame.length} lines`);
  assert.match(frame.at(-1)!, /^… \d+ more resource\(s\)/);
  // the busiest first
  assert.match(frame[2], /^resource_32\s/);
  // the redraw goes up exactly the lines it drew
  assert.equal(written[1].startsWith(`\x1b[${frame.length}F\x1b[J`), true);
  // a tall terminal shows every resource
  assert.equal(formatProgress(many, 100).length, 2 + 33);
});

Deno.test("show --loads, show <table>, sql and serve (psql connects)", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ tasksPerProject: 3 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const db = `${dir.path}/db`;
    const file = await fastAsanaFile(dir.path);
    assert.equal((await runCli(["run", file, "--db", db, "--quiet"], env)).code, 0);
    const loads = await runCli(["show", "--db", db, "--loads"]);
    assert.match(loads.stdout, /^\d+\.\d+\s+completed\s+\S+Z\s+[\d.]+$/m);
    const table = await runCli(["show", "tasks", "--db", db]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^asana_data\.tasks: \d+ rows$/m);
    assert.match(table.stdout, /^created_at\s+timestamp with time zone$/m);
    assert.match(table.stdout, /^sample \(\d rows, first 8 columns\):$/m);
    const json = JSON.parse(
      (await runCli(["show", "tasks__memberships", "--db", db, "--json"])).stdout,
    );
    assert.equal(json.parent, "tasks");
    const missing = await runCli(["show", "taks", "--db", db]);
    assert.equal(missing.code, 2);
    const q = await runCli([
      "sql",
      "select count(*)::int as n from asana_data.workspaces",
      "--db",
      db,
      "--json",
    ]);
    assert.deepEqual(JSON.parse(q.stdout), [{ n: 2 }]);
    const bad = await runCli(["sql", "select nope", "--db", db]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /sql: column "nope" does not exist/);

    // a free port (a random one collided with another test's server now and then)
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = free.addr.port;
    free.close();
    const server = cliCommand([
      "serve",
      "--db",
      db,
      "--port",
      String(port),
    ], {
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /^serving /);
    const psql = await new Deno.Command("psql", {
      args: [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-tAc",
        "select count(*) from asana_data.users",
      ],
      env: { PGSSLMODE: "disable" },
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(psql.stdout).trim(), String(fake.groundTruth().users));
    server.kill("SIGTERM");
    await server.status;
    reader.releaseLock();
  } finally {
    await fake.close();
  }
});

Deno.test("--help for every command: its usage, what it does and its options; exit 0", async () => {
  const commands = ["run", "plan", "check", "init", "show", "sql", "serve"];
  const results = await Promise.all(commands.map((c) => runCli([c, "--help"])));
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 0, `${commands[i]} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage:\\n  restpipe ${commands[i]} `));
    assert.match(r.stdout, /\noptions:\n/);
    assert.match(r.stdout, / {2}--help\n/);
  }
  assert.match(results[0].stdout, /--full-refresh/);
  // run's help ends with its exit codes
  assert.match(
    results[0].stdout,
    /\nexit codes:\n {2}0 +loaded and committed\n[^]*\n {2}75 +failed for now/,
  );
  const help = await runCli(["help", "sql"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage:\n {2}restpipe sql /);
  const all = await runCli(["--help"]);
  assert.equal(all.code, 0);
  for (const c of commands) assert.match(all.stdout, new RegExp(`\\n  restpipe ${c} `));
  const none = await runCli([]);
  assert.equal(none.code, 2);
  const version = await runCli(["--version"]);
  assert.equal(version.code, 0);
  const pinned = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).version;
  assert.match(version.stdout, new RegExp(`^restpipe ${pinned.replaceAll(".", "\\.")} \\(deno `));
  const unknown = await runCli(["run", "--bogus"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option --bogus; expected --db, --destination/);
});

Deno.test("show and sql take the spec the same ways: as a file name or as --spec, beside other databases", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ tasksPerProject: 2 });
  try {
    const spec = await fastAsanaFile(dir.path);
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const run = await runCli(["run", spec, "--resources", "workspaces"], env, dir.path);
    assert.equal(run.code, 0, run.stderr);
    // a second database (the demo's) makes "the one database under .data/" ambiguous
    const demo = await runCli(
      ["run", spec, "--resources", "workspaces", "--db", ".data/demo"],
      env,
      dir.path,
    );
    assert.equal(demo.code, 0, demo.stderr);
    const ambiguous = await runCli(["show"], {}, dir.path);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /several databases \(\.data\/asana, \.data\/demo\)/);
    const query = "select count(*)::int as n from asana_data.workspaces";
    for (const args of [["show", spec], ["show", "--spec", spec]]) {
      const r = await runCli(args, {}, dir.path);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, /workspaces/);
    }
    for (
      const args of [["sql", spec, query], ["sql", query, spec], ["sql", query, "--spec", spec]]
    ) {
      const r = await runCli([...args, "--json"], {}, dir.path);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout), [{ n: fake.data.all("workspace").length }]);
    }
    const both = await runCli(["show", spec, "--spec", spec], {}, dir.path);
    assert.equal(both.code, 2);
  } finally {
    await fake.close();
  }
});

Deno.test("plan shows what the next run will backfill: a resource added to the spec of a loaded database", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ tasksPerProject: 3 });
  try {
    const spec = await fastAsanaFile(dir.path);
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const run = await runCli(["run", spec, "--resources", "tasks", "--db", "db"], env, dir.path);
    assert.equal(run.code, 0, run.stderr);
    const before = await runCli(["plan", spec, "--db", "db"], env, dir.path);
    assert.equal(before.code, 0, before.stderr);
    // everything but tasks and its ancestors is new to this database
    assert.match(before.stdout, /^backfill: stories is new to this database/m);
    assert.doesNotMatch(before.stdout, /^backfill: tasks /m);
    const listed = new Set([...fake.data.tasksOf.values()].flat()).size;
    assert.match(
      before.stdout,
      new RegExp(`^backfill: stories .*\\(${listed} tasks \\+ \\? subtasks`, "m"),
    );
    const all = await runCli(["run", spec, "--db", "db"], env, dir.path);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^stories: new to this database/m);
    const after = await runCli(["plan", spec, "--db", "db", "--json"], env, dir.path);
    assert.deepEqual(JSON.parse(after.stdout).backfills, []);
  } finally {
    await fake.close();
  }
});

Deno.test("a changed primary key, disposition or cursor is refused with the command that rebuilds the table; that command works", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ tasksPerProject: 2 });
  try {
    const spec = await fastAsanaFile(dir.path);
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const first = await runCli(["run", spec, "--db", "db", "--resources", "tasks"], env, dir.path);
    assert.equal(first.code, 0, first.stderr);
    const text = await Deno.readTextFile(spec);
    const edited = text.replace(
      /( {2}tasks:\n(?: {4}.*\n)*?) {4}incremental: \{ cursor: modified_at,/,
      "$1    incremental: { cursor: created_at,",
    );
    assert.notEqual(edited, text);
    await Deno.writeTextFile(spec, edited);
    const refused = await runCli(
      ["run", spec, "--db", "db", "--resources", "tasks"],
      env,
      dir.path,
    );
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /tasks: incremental cursor modified_at → created_at since its rows were loaded/,
    );
    assert.match(refused.stderr, /--full-refresh --resources tasks/);
    const rebuilt = await runCli(
      ["run", spec, "--db", "db", "--resources", "tasks", "--full-refresh"],
      env,
      dir.path,
    );
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const again = await runCli(["run", spec, "--db", "db", "--resources", "tasks"], env, dir.path);
    assert.equal(again.code, 0, again.stderr);
  } finally {
    await fake.close();
  }
});

Deno.test("deno task install-cli gives a restpipe command that runs a spec from any folder", async () => {
  await using root = await tempDir();
  await using elsewhere = await tempDir();
  // the task's own command line, installed under a temporary root instead of ~/.deno
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task: string[] = config.tasks["install-cli"].split(" ");
  assert.deepEqual(task.slice(0, 3), ["deno", "install", "--global"]);
  const install = await new Deno.Command(Deno.execPath(), {
    args: [...task.slice(1, 3), "--root", root.path, ...task.slice(3)],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
  const fake = await startFakeAsana({ tasksPerProject: 3 });
  try {
    // a spec outside the checkout, run from another folder, with deno on the PATH only
    const spec = await fastAsanaFile(elsewhere.path);
    const restpipe = (...args: string[]) =>
      new Deno.Command(`${root.path}/bin/restpipe`, {
        args,
        cwd: elsewhere.path,
        clearEnv: true,
        env: {
          PATH: Deno.execPath().replace(/\/[^/]+$/, ""),
          // Deno's own cache, as the user has it
          ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
          NO_COLOR: "1",
          ASANA_BASE_URL: fake.baseUrl,
          ASANA_ACCESS_TOKEN: fake.token,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    const version = await restpipe("--version");
    assert.match(decode(version.stdout), new RegExp(`^restpipe ${config.version} \\(deno `));
    const run = await restpipe("run", spec, "--quiet");
    assert.equal(run.code, 0, decode(run.stderr));
    // the database lands where the command ran: .data/<pipeline> of that folder
    const show = await restpipe("show", spec, "--json");
    assert.equal(show.code, 0, decode(show.stderr));
    assert.equal(
      JSON.parse(decode(show.stdout)).tables.some((t: { name: string }) => t.name === "tasks"),
      true,
    );
    assert.equal((await Deno.stat(`${elsewhere.path}/.data`)).isDirectory, true);
  } finally {
    await fake.close();
  }
});

Deno.test("deno task demo downloads only what restpipe runs with: the test tools are pinned apart; --help is usage, not a database folder", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const tests = JSON.parse(await Deno.readTextFile(`${ROOT}tests/imports.json`));
  const lock = await Deno.readTextFile(`${ROOT}deno.lock`);
  // the tests run with every package restpipe runs with, at the same version
  for (const [name, target] of Object.entries(config.imports)) {
    assert.equal(tests.imports[name], target, name);
  }
  // and the packages only a test needs are neither in deno.json nor in deno.lock, which
  // are all that `deno task demo` and `deno task run` read (Deno fetches every package of
  // the lock file before a task starts)
  for (const tool of ["json-server", "playwright-core", "@readme/oas-examples"]) {
    assert.ok(Object.keys(tests.imports).some((k) => k.startsWith(tool)), tool);
    assert.ok(!Object.keys(config.imports).some((k) => k.startsWith(tool)), tool);
    assert.ok(!lock.includes(`npm:${tool}@`) && !lock.includes(`"${tool}@`), tool);
  }
  await using dir = await tempDir();
  const demo = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "-A", `${ROOT}scripts/demo.ts`, ...args],
      cwd: dir.path,
      stdout: "piped",
      stderr: "piped",
    }).output();
  const help = await demo("--help");
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /^usage: deno task demo \[DB_DIR\]/);
  const bad = await demo("--bogus");
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /unknown option --bogus/);
  // neither made a database folder named after the option
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("every deno task's script, and every script the README runs, resolves its imports with the flags it is run with (the bench needs the test tools' import map)", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const checked: string[] = [];
  for (const [task, command] of Object.entries(config.tasks as Record<string, string>)) {
    const words = command.split(/\s+/);
    if (words[0] !== "deno" || !["run", "install"].includes(words[1])) continue;
    const script = words.find((w) => /\.ts$/.test(w))!;
    // the flags that decide where imports come from, as the task passes them
    const own = words.filter((w) => /^--(import-map|lock|config)=/.test(w));
    const configFlag = words.includes("--config")
      ? ["--config", words[words.indexOf("--config") + 1]]
      : [];
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", ...own, ...configFlag, script],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, `deno task ${task}: ${new TextDecoder().decode(r.stderr)}`);
    checked.push(task);
  }
  assert.ok(checked.includes("bench") && checked.includes("run") && checked.includes("demo"));
  // and the scripts the README runs with `deno run -A scripts/…` (deno.json's imports only)
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const scripts = [
    ...new Set([...readme.matchAll(/deno run -A (scripts\/\w+\.ts)/g)].map((m) => m[1])),
  ];
  assert.ok(scripts.length >= 3, scripts.join());
  for (const script of scripts) {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", script],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, `deno run -A ${script}: ${new TextDecoder().decode(r.stderr)}`);
  }
});
