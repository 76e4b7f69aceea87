/**
 * The PostgreSQL destination end to end, as a user runs it: `--destination` with a
 * URL or with dlt's credentials, the Asana ground truth, incremental runs equal to a
 * fresh load, failures and SIGKILL leaving the previous load, one run per dataset,
 * readers seeing the last committed load, and the password kept out of everything.
 */
import assert from "node:assert/strict";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PostgresDestination } from "../src/load/postgres.ts";
import {
  asanaSpec,
  cliCommand,
  fastAsanaFile,
  ROOT,
  runCli,
  tableContents,
  tempDir,
  truthFor,
  withoutSubtasks,
} from "./helpers.ts";
import { freshDatabase, NO_POSTGRES } from "./pg.ts";
import { json, serveHostile, specOf } from "./hostile.ts";
import postgres from "postgres";

const SPEC = `${ROOT}pipelines/asana.yaml`;

function passwordOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

Deno.test({
  name:
    "run --destination URL loads the fake Asana's truth; a second run changes nothing; show and sql read it; the password is nowhere",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    const fake = await startFakeAsana({ seed: 5, tasksPerProject: 4 });
    try {
      const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
      const outputs: string[] = [];
      const cli = async (args: string[]) => {
        const r = await runCli(args, env);
        outputs.push(r.stdout, r.stderr);
        assert.equal(r.code, 0, r.stderr);
        return r;
      };
      const file = await fastAsanaFile(dir.path);
      await cli(["run", file, "--destination", db.url]);
      const dest = await PostgresDestination.open(db.url);
      const first = await tableContents(dest);
      const spec = await asanaSpec(fake.baseUrl, fake.token);
      for (const [t, n] of Object.entries(truthFor(spec, fake.groundTruth()))) {
        assert.equal(first[t]?.length, n, t);
      }
      await cli(["run", file, "--destination", db.url, "--quiet"]);
      assert.deepEqual(await tableContents(dest), first);
      const shown = await cli(["show", SPEC, "--destination", db.url]);
      assert.match(shown.stdout, /tasks\s+\d+/);
      const loads = await cli(["show", SPEC, "--destination", db.url, "--loads"]);
      assert.match(loads.stdout, /completed/);
      const sql = await cli([
        "sql",
        "select count(*)::int as n from asana_data.tasks",
        "--destination",
        db.url,
        "--json",
      ]);
      assert.deepEqual(JSON.parse(sql.stdout), [{ n: fake.groundTruth().tasks }]);
      const write = await runCli(["sql", "delete from asana_data.tasks", "--destination", db.url]);
      assert.equal(write.code, 2);
      // a chained statement cannot end the read-only transaction (the driver once sent
      // parameterless text as a simple query, and this deleted every task)
      const chained = await runCli([
        "sql",
        "commit; delete from asana_data.tasks",
        "--destination",
        db.url,
      ]);
      assert.equal(chained.code, 2);
      assert.deepEqual(
        (await dest.query<{ n: number }>("select count(*)::int as n from asana_data.tasks")).rows,
        [{ n: fake.groundTruth().tasks }],
      );
      const everything = await dest.query<{ t: string }>(
        `select string_agg(x::text, ' ') as t from (
           select to_jsonb(l)::text as x from asana_data._dlt_loads l
           union all select state::text from asana_data._dlt_pipeline_state
           union all select schema::text from asana_data._dlt_version) s`,
      );
      const secret = passwordOf(db.url);
      assert.equal(everything.rows[0].t.includes(secret), false);
      for (const o of outputs) assert.equal(o.includes(secret), false, o);
      await dest.close();
    } finally {
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "--destination postgres takes the URL from DESTINATION__POSTGRES__CREDENTIALS or .dlt/secrets.toml",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    await using api = serveHostile(() => json({ data: [{ id: 1 }, { id: 2 }] }));
    const spec = `${dir.path}/s.yaml`;
    await Deno.writeTextFile(
      spec,
      `pipeline: s\ndataset: s_data\nsource:\n  base_url: ${api.url}\n  records: data\nresources:\n  items: { path: /items, primary_key: id, write_disposition: replace }\n`,
    );
    const viaEnv = await runCli(
      ["run", spec, "--destination", "postgres", "--quiet"],
      { DESTINATION__POSTGRES__CREDENTIALS: db.url },
      dir.path,
    );
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    await Deno.mkdir(`${dir.path}/.dlt`);
    const u = new URL(db.url);
    await Deno.writeTextFile(
      `${dir.path}/.dlt/secrets.toml`,
      `[destination.postgres.credentials]\ndatabase = "${u.pathname.slice(1)}"\n` +
        `username = "${u.username}"\npassword = "${decodeURIComponent(u.password)}"\n` +
        `host = "${u.hostname}"\nport = ${u.port}\n`,
    );
    const viaToml = await runCli(
      ["sql", "select count(*)::int as n from s_data.items", "--destination", "postgres", "--json"],
      {},
      dir.path,
    );
    assert.equal(viaToml.code, 0, viaToml.stderr);
    assert.deepEqual(JSON.parse(viaToml.stdout), [{ n: 2 }]);
    const none = await runCli(["run", spec, "--destination", "postgres"], {}, ROOT);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /DESTINATION__POSTGRES__CREDENTIALS/);
  },
});

Deno.test({
  name: "after changes, an incremental run into PostgreSQL equals a fresh full load",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using a = await freshDatabase();
    await using b = await freshDatabase();
    const fake = await startFakeAsana({ seed: 9, tasksPerProject: 6 });
    try {
      const spec = await asanaSpec(fake.baseUrl, fake.token);
      const inc = await PostgresDestination.open(a.url);
      await runPipeline(spec, { destination: inc });
      fake.data.mutate({ touch: 0.2, remove: 3, add: 4, stories: 3 });
      await runPipeline(spec, { destination: inc });
      const fresh = await PostgresDestination.open(b.url);
      await runPipeline(spec, { destination: fresh });
      assert.deepEqual(
        withoutSubtasks(await tableContents(inc)),
        withoutSubtasks(await tableContents(fresh)),
      );
      await inc.close();
      await fresh.close();
    } finally {
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "a failed run and a SIGKILLed run leave the previous PostgreSQL load; readers see it throughout; a second run is refused",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    // pages of two records; `mode` makes the API fail, or slow, or end after `pages`
    let mode: "ok" | "fail" | "slow" = "ok";
    let pages = 2;
    await using api = serveHostile(async (url) => {
      const page = Number(url.searchParams.get("page") ?? 1);
      if (mode === "fail" && page === 2) return json({ errors: [{ message: "down" }] }, 500);
      if (mode === "slow") await new Promise((r) => setTimeout(r, 300));
      return json({
        data: [{ id: `${page}a`, mode }, { id: `${page}b`, mode }],
        next: page < pages ? `${url.origin}/items?page=${page + 1}` : null,
      });
    });
    const spec = `${dir.path}/s.yaml`;
    await Deno.writeTextFile(
      spec,
      `pipeline: s\ndataset: s_data\nsource:\n  base_url: ${api.url}\n  records: data\n` +
        `  paginator: { type: next_url, next_url_path: next }\n` +
        `  retry: { attempts: 2, backoff_seconds: 0.01 }\n` +
        `resources:\n  items: { path: /items, primary_key: id, write_disposition: replace }\n`,
    );
    const run = (...extra: string[]) => runCli(["run", spec, "--destination", db.url, ...extra]);
    assert.equal((await run("--quiet")).code, 0);
    const dest = await PostgresDestination.open(db.url);
    const rows = async () =>
      (await dest.query<{ id: string; mode: string }>(
        `select id, mode from s_data.items order by id`,
      ))
        .rows.map((r) => `${r.id}:${r.mode}`);
    const before = await rows();
    assert.deepEqual(before, ["1a:ok", "1b:ok", "2a:ok", "2b:ok"]);
    mode = "fail";
    pages = 3;
    const failed = await run("--quiet");
    assert.equal(failed.code, 75, "a 500 left after the retries is temporary");
    assert.deepEqual(await rows(), before);
    // a run killed mid-load; meanwhile readers see the last load, and a second run is refused
    mode = "slow";
    pages = 100;
    const slow = cliCommand([
      "run",
      spec,
      "--destination",
      db.url,
    ], {
      env: { NO_COLOR: "1" },
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    }).spawn();
    let held = false;
    for (let i = 0; i < 200 && !held; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const locks = await dest.query<{ n: number }>(
        // this database's: the test server is shared by the tests running beside this one
        `select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
         where l.locktype = 'advisory' and l.granted and d.datname = current_database()`,
      );
      held = locks.rows[0].n > 0;
    }
    assert.equal(held, true, "the run holds the dataset");
    await new Promise((r) => setTimeout(r, 1500)); // some pages are written by now
    assert.deepEqual(await rows(), before, "readers see the last committed load");
    // the load history and the schema too, at once: the run altered none of the system
    // tables (an alter table would lock them until its commit)
    const history = await Promise.race([
      Promise.all([dest.loads("s_data"), dest.readSchema("s_data")]),
      new Promise((r) => setTimeout(() => r("waited"), 5000)),
    ]);
    assert.notEqual(history, "waited", "reading the load history waited for the run");
    const second = await run("--quiet");
    assert.equal(second.code, 75, second.stderr);
    assert.match(second.stderr, /dataset s_data on postgresql:\/\/.* is in use by restpipe run/);
    assert.equal(second.stderr.includes(passwordOf(db.url)), false);
    slow.kill("SIGKILL");
    assert.equal((await slow.status).success, false);
    assert.deepEqual(await rows(), before);
    mode = "ok";
    pages = 3;
    // the failed and the killed runs left a checkpoint whose answers are those of their
    // time ("1a:fail"): this run asks the API afresh, to see what it says now
    assert.equal((await run("--quiet", "--no-resume")).code, 0);
    assert.deepEqual(await rows(), ["1a:ok", "1b:ok", "2a:ok", "2b:ok", "3a:ok", "3b:ok"]);
    await dest.close();
  },
});

Deno.test({
  name:
    "sslmode in the URL is honoured: require fails against a server without TLS, naming the URL without its password",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    const url = new URL(db.url);
    url.searchParams.set("sslmode", "require");
    const r = await runCli(["sql", "select 1", "--destination", url.toString()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot connect to postgresql:\/\/restpipe:\*\*\*@127\.0\.0\.1/);
    assert.match(r.stderr, /SSL|ssl/);
    assert.equal(r.stderr.includes(passwordOf(db.url)), false);
    url.searchParams.set("sslmode", "disable");
    const ok = await runCli(["sql", "select 1 as one", "--destination", url.toString(), "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
  },
});

/** Groups and their members; `members` answers through `onMembers` (to slow or to sabotage). */
function groupsApi(onMembers: (group: number) => Promise<void> | void, version: () => string) {
  return serveHostile(async (url) => {
    if (url.pathname === "/groups") {
      return json({ data: [1, 2, 3, 4, 5, 6].map((id) => ({ id })) });
    }
    const group = Number(url.pathname.split("/")[2]);
    await onMembers(group);
    return json({
      data: [1, 2, 3].map((m) => ({ id: group * 10 + m, group, name: `${version()} ${m}` })),
    });
  });
}

function groupsSpec(url: string) {
  return specOf(`pipeline: g
dataset: g_data
source:
  base_url: ${url}
  records: data
  limits: { requests_per_minute: 60000, max_in_flight: 1 }
resources:
  groups:
    path: /groups
    primary_key: id
    write_disposition: replace
  members:
    path: /groups/{groups.id}/members
    parent: groups
    primary_key: id
    write_disposition: merge
`);
}

Deno.test({
  name:
    "a run whose connection the server ends fails and commits nothing: no statement goes to a new connection",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    let version = "v1";
    let sabotage = false;
    const admin = postgres(db.url, { max: 1, onnotice: () => {} });
    await using api = groupsApi(async (group) => {
      if (!sabotage || group !== 4) return;
      // the server ends the run's connection while the run waits on the API
      await admin.unsafe(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and application_name = 'restpipe run'`,
      );
      await new Promise((r) => setTimeout(r, 100));
    }, () => version);
    const spec = groupsSpec(api.url);
    const names = async () =>
      (await admin.unsafe(`select name from g_data.members order by id`)).map((r) => r.name);
    const dest1 = await PostgresDestination.open(db.url);
    await runPipeline(spec, { destination: dest1 });
    await dest1.close();
    const before = await names();
    assert.equal(before.length, 18);

    // every row of this run is written after the connection is gone
    version = "v2";
    sabotage = true;
    const dest2 = await PostgresDestination.open(db.url);
    await assert.rejects(
      runPipeline(spec, { destination: dest2 }),
      /closed during the run/,
    );
    await dest2.close();
    // not one row of the failed run, and its failure is on record
    assert.deepEqual(await names(), before);
    // dlt's status: 0 loaded, 1 (restpipe's) failed
    const loads = await admin.unsafe(
      `select status::int as status from g_data._dlt_loads order by started_at`,
    );
    assert.deepEqual(loads.map((r) => r.status), [0, 1]);

    // the lock went with the connection: the next run goes through
    sabotage = false;
    const dest3 = await PostgresDestination.open(db.url);
    await runPipeline(spec, { destination: dest3, flushRows: 1 });
    await dest3.close();
    assert.equal((await names()).filter((n) => n.startsWith("v2")).length, 18);
    await admin.end();
  },
});

Deno.test({
  name: "a run outlives postgres.js's connection lifetime (PGMAX_LIFETIME=1, a 3-second run)",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using api = groupsApi(() => new Promise((r) => setTimeout(r, 500)), () => "v1");
    Deno.env.set("PGMAX_LIFETIME", "1");
    Deno.env.set("PGIDLE_TIMEOUT", "1");
    try {
      const dest = await PostgresDestination.open(db.url);
      const r = await runPipeline(groupsSpec(api.url), { destination: dest, flushRows: 1 });
      await dest.close();
      assert.equal(r.resources.find((x) => x.resource === "members")!.rows, 18);
    } finally {
      Deno.env.delete("PGMAX_LIFETIME");
      Deno.env.delete("PGIDLE_TIMEOUT");
    }
    const admin = postgres(db.url, { max: 1, onnotice: () => {} });
    const n = await admin.unsafe(`select count(*)::int as n from g_data.members`);
    await admin.end();
    assert.equal(n[0].n, 18);
  },
});

Deno.test({
  name:
    "the password can stay off the command line: PGPASSWORD with a URL without one works, even through deno task; a URL with one gets a note",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    const fake = await startFakeAsana({ seed: 5, tasksPerProject: 2 });
    try {
      const secret = passwordOf(db.url);
      const bare = new URL(db.url);
      bare.password = "";
      const env = {
        ASANA_BASE_URL: fake.baseUrl,
        ASANA_ACCESS_TOKEN: fake.token,
        PGPASSWORD: secret,
      };
      const file = await fastAsanaFile(dir.path);
      const run = await runCli(
        ["run", file, "--destination", bare.toString(), "--resources", "workspaces"],
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /note: the password/);
      // deno task echoes its command line: with PGPASSWORD it holds no password
      const task = await new Deno.Command(Deno.execPath(), {
        args: ["task", "show", SPEC, "--destination", bare.toString()],
        cwd: ROOT,
        env: { NO_COLOR: "1", PGPASSWORD: secret, PATH: Deno.env.get("PATH") ?? "" },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      const echoed = dec.decode(task.stdout) + dec.decode(task.stderr);
      assert.equal(task.code, 0, echoed);
      assert.match(echoed, /workspaces/);
      for (const o of [run.stdout, run.stderr, echoed]) assert.equal(o.includes(secret), false, o);
      // a password in the URL works, is redacted, and the command says where else it went
      const inline = await runCli(
        ["show", SPEC, "--destination", db.url],
        { ASANA_ACCESS_TOKEN: "x" },
      );
      assert.equal(inline.code, 0, inline.stderr);
      assert.match(inline.stderr, /note: the password in --destination is in your shell history/);
      assert.equal(inline.stdout.includes(secret) || inline.stderr.includes(secret), false);
    } finally {
      await fake.close();
    }
  },
});
