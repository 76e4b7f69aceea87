/**
 * What a dataset records of the restpipe that wrote it (issue 21, points 2 and 6): dlt's
 * columns in `_dlt_loads` (status 0 = loaded, schema name, version hash, inserted_at)
 * beside restpipe's figures (deletions per table, the version), a dataset made before
 * them upgraded in place, and a dataset written by a newer restpipe refused.
 */
import assert from "node:assert/strict";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { VERSION } from "../src/core/version.ts";
import {
  asanaSpec,
  differing,
  fastAsanaFile,
  freshLoad,
  runCli,
  tableContents,
  tempDir,
  testEachDestination,
} from "./helpers.ts";
import { restoreFixture, UPGRADE_FAKE, type UpgradeFixture } from "./upgrade_fixture.ts";

testEachDestination(
  "_dlt_loads has dlt's columns (status 0 = loaded) beside restpipe's figures, deletions per table among them",
  async (dest) => {
    const fake = await startFakeAsana({ seed: 3, tasksPerProject: 6 });
    try {
      const spec = await asanaSpec(fake.baseUrl, fake.token);
      await runPipeline(spec, { destination: dest });
      const gone = fake.data.all("task").find((t) =>
        (t.projects as unknown[]).length === 1 && !(fake.data.subtasksOf.get(t.gid)?.length)
      )!;
      const stories = fake.data.storiesOf.get(gone.gid)!.length;
      fake.data.deleteTask(gone.gid);
      const second = await runPipeline(spec, { destination: dest });
      const loads = await dest.query<{
        load_id: string;
        schema_name: string;
        status: number;
        inserted_at: string;
        schema_version_hash: string;
        deleted: Record<string, number>;
        restpipe_version: string;
      }>(
        `select load_id, schema_name, status::int as status, inserted_at::text as inserted_at,
         schema_version_hash, deleted, restpipe_version
       from asana_data._dlt_loads order by load_id`,
      );
      assert.equal(loads.rows.length, 2);
      for (const l of loads.rows) {
        assert.equal(l.schema_name, "asana");
        assert.equal(l.status, 0);
        assert.match(l.schema_version_hash, /^[A-Za-z0-9+/]{43}=$/);
        assert.equal(l.restpipe_version, VERSION);
        assert.equal(typeof l.inserted_at, "string");
      }
      // the task, and its stories with it
      assert.equal(loads.rows[1].deleted.tasks, 1);
      assert.equal(loads.rows[1].deleted.stories, stories);
      assert.deepEqual(loads.rows[0].deleted, {});
      assert.equal(second.resources.find((r) => r.resource === "tasks")!.deleted, 1);
      // the hash names the schema version the load wrote, as in dlt
      const versions = await dest.query<{ version_hash: string; schema_name: string }>(
        `select v.version_hash, v.schema_name from asana_data._dlt_version v
       join asana_data._dlt_loads l on l.load_id = v.load_id order by v.version`,
      );
      assert.deepEqual(
        versions.rows.map((v) => v.version_hash),
        loads.rows.map((l) => l.schema_version_hash),
      );
      // restpipe's own reading of the history
      assert.deepEqual((await dest.loads("asana_data")).map((l) => l.status), [
        "completed",
        "completed",
      ]);
      // a failed run is recorded as not loaded (status 1), with its error
      // a run that fails at its first request (a port nothing listens on: refused at once)
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      listener.close();
      const broken = await asanaSpec(`http://127.0.0.1:${listener.addr.port}/api/1.0`, fake.token);
      await assert.rejects(() => runPipeline(broken, { destination: dest }));
      const failed = await dest.query<{ status: number; error: string }>(
        `select status::int as status, error from asana_data._dlt_loads where status <> 0`,
      );
      assert.equal(failed.rows.length, 1);
      assert.equal(failed.rows[0].status, 1);
      assert.equal((await dest.loads("asana_data"))[0].status, "failed");
    } finally {
      await fake.close();
    }
  },
);

testEachDestination(
  "a _dlt_loads made before dlt's columns is brought up to them: its text status becomes 0 or 1",
  async (dest) => {
    const fake = await startFakeAsana({ seed: 4, tasksPerProject: 3 });
    try {
      const spec = await asanaSpec(fake.baseUrl, fake.token);
      await runPipeline(spec, { destination: dest });
      // the table as restpipe made it before (text status, none of dlt's columns)
      await dest.query(
        `alter table asana_data._dlt_loads alter column status type text
         using case when status = 0 then 'completed' else 'failed' end`,
        [],
        { write: true },
      );
      await dest.query(
        `alter table asana_data._dlt_loads drop column schema_name, drop column inserted_at,
         drop column schema_version_hash, drop column deleted, drop column restpipe_version`,
        [],
        { write: true },
      );
      assert.deepEqual((await dest.loads("asana_data")).map((l) => l.status), ["completed"]);
      await runPipeline(spec, { destination: dest });
      const rows = await dest.query<{ status: number; schema_name: string }>(
        `select status::int as status, schema_name from asana_data._dlt_loads order by load_id`,
      );
      assert.deepEqual(rows.rows, [{ status: 0, schema_name: "asana" }, {
        status: 0,
        schema_name: "asana",
      }]);
    } finally {
      await fake.close();
    }
  },
);

Deno.test("a dataset written by a newer restpipe is refused (exit 2), and left as it was", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ seed: 5, tasksPerProject: 3 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const db = `${dir.path}/db`;
    const file = await fastAsanaFile(dir.path);
    assert.equal((await runCli(["run", file, "--db", db, "--quiet"], env)).code, 0);
    // what a later restpipe would store: a newer state format
    const dest = await PgliteDestination.open(db);
    const state = await dest.readState("asana_data");
    assert.deepEqual(state.restpipe, { version: VERSION, format: 1 });
    await dest.query(
      `update asana_data._dlt_pipeline_state
       set state = jsonb_set(state, '{restpipe}', '{"version": "9.0.0", "format": 99}')`,
      [],
      { write: true },
    );
    const loads = (await dest.loads("asana_data")).length;
    await dest.close();
    for (const command of ["run", "plan"]) {
      const r = await runCli([command, file, "--db", db], env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /dataset asana_data was written by restpipe 9\.0\.0 \(state format 99\), newer than this restpipe [\d.]+ \(format 1\): run restpipe 9\.0\.0 or later on it/,
      );
    }
    const after = await PgliteDestination.open(db);
    assert.equal((await after.loads("asana_data")).length, loads);
    await after.close();
  } finally {
    await fake.close();
  }
});

Deno.test("a dataset made by an older restpipe (1799251) is brought up to today's spec by one run: every table and view as a fresh load", async () => {
  const fixture: UpgradeFixture = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/upgrade_1799251.json", import.meta.url)),
  );
  const fake = await startFakeAsana(UPGRADE_FAKE);
  try {
    const dest = await PgliteDestination.open();
    await restoreFixture(dest, fixture);
    const stories = (await tableContents(dest)).stories.length;
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const run = await runPipeline(spec, { destination: dest });
    // the resources and parents the older spec lacked were backfilled
    const backfilled = run.resources.filter((r) => r.backfilled).map((r) => r.resource);
    assert.equal(backfilled.includes("stories"), true, backfilled.join());
    const got = await tableContents(dest);
    assert.equal(got.stories.length > stories, true, "the subtasks' stories arrived");
    const fresh = await freshLoad(fake.baseUrl, fake.token);
    // every resource's field list was unknown (not recorded before 0.2.0): each was listed
    // again once, so no row keeps a column today's spec no longer fills; a child table of
    // a list the older spec asked for is kept, empty, as dlt keeps it
    const kept = ["tasks__custom_fields__enum_options (0 rows)"];
    assert.deepEqual(leftovers(got, fresh), kept);
    assert.deepEqual(differing(await tableContents(dest, fresh), fresh), []);
    // and the next run is an ordinary incremental one
    const next = await runPipeline(spec, { destination: dest });
    assert.deepEqual(next.resources.filter((r) => r.backfilled), []);
    const after = await tableContents(dest);
    assert.deepEqual(leftovers(after, fresh), kept);
    assert.deepEqual(differing(await tableContents(dest, fresh), fresh), []);
    await dest.close();
  } finally {
    await fake.close();
  }
});

/** Tables and columns `got` has and a fresh load does not (columns holding a value). */
function leftovers(got: Record<string, string[]>, fresh: Record<string, string[]>): string[] {
  const out: string[] = [];
  for (const [t, rows] of Object.entries(got)) {
    if (!(t in fresh)) {
      out.push(`${t} (${rows.length} rows)`);
      continue;
    }
    const known = new Set(fresh[t].flatMap((r) => Object.keys(JSON.parse(r))));
    const extra = new Set(
      rows.flatMap((r) => Object.keys(JSON.parse(r))).filter((k) => !known.has(k)),
    );
    if (extra.size > 0) out.push(`${t}: ${[...extra].sort().join(", ")}`);
  }
  return out.sort();
}
