import assert from "node:assert/strict";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { describeDataset } from "../src/show.ts";
import { asanaSpec, loadedTables, ROOT, runCli, tempDir } from "./helpers.ts";

const everything = (s: string) => s.replaceAll("enabled: false", "enabled: true");

async function countsOf(dest: PgliteDestination): Promise<Record<string, number>> {
  const summary = await describeDataset(dest, "asana_data");
  return Object.fromEntries(summary.tables.map((t) => [t.name, t.rows]));
}

for (const premium of [true, false]) {
  Deno.test(`every Asana resource, ${premium ? "premium" : "free"} plan: each table holds the fake's truth`, async () => {
    const fake = await startFakeAsana({ premium, tasksPerProject: 10 });
    try {
      const spec = await asanaSpec(fake.baseUrl, fake.token, everything);
      const dest = await PgliteDestination.open();
      const result = await runPipeline(spec, { destination: dest });
      const got = await countsOf(dest);
      const truth = fake.groundTruth();
      const tables = loadedTables(spec);
      assert.equal(tables.length, 29);
      for (const t of tables) {
        assert.ok(t in truth, `the fake knows ${t}`);
        // a premium organisation has rows in every table: no comparison is vacuous
        if (premium) assert.equal(truth[t] > 0, true, `the fake has no ${t}`);
        assert.equal(got[t] ?? 0, truth[t], t);
      }
      assert.equal(truth.subtasks > truth.tasks / 10, true);
      // when: the parents that say they have none get no request (one page each otherwise)
      const withSubtasks = fake.data.all("task").filter((t) => Number(t.num_subtasks) > 0);
      assert.equal(fake.requests.get("/tasks/{gid}/subtasks"), withSubtasks.length);
      const avoided = result.resources.find((r) => r.resource === "subtasks")!.avoided;
      assert.equal(avoided > withSubtasks.length, true, `${avoided} subtask listings avoided`);
      // a first load lists each project's tasks once, and each user's tasks in each of
      // their workspaces: from `initial`, the listing has every key, so no key-only listing
      // is made for reconcile (one page of ≤ 100 each)
      const userWorkspaces = fake.data.all("user").flatMap((u) => u.workspaces as unknown[]);
      assert.equal(
        fake.requests.get("/tasks"),
        fake.data.all("project").length + userWorkspaces.length,
      );
      const orgs = fake.data.all("workspace").filter((w) => w.is_organization).length;
      assert.equal(fake.requests.get("/workspaces/{gid}/teams"), orgs);
      for (const r of result.resources) {
        // a resource whose requests were all skipped took no time, not negative time
        assert.equal(r.seconds >= 0, true, `${r.resource}: ${r.seconds} s`);
        if (r.loaded) assert.equal(r.rows, got[r.table] ?? 0, `${r.resource}: rows written`);
      }
      const skipped = result.resources.flatMap((r) => r.skipped.map((s) => [r.resource, s.status]));
      if (premium) {
        assert.deepEqual(skipped, []);
        assert.equal(got.portfolio_items, truth.portfolio_items);
      } else {
        // premium-only endpoints are skipped on 402, each named in the summary
        assert.deepEqual(
          [...new Set(skipped.map(([r]) => r))].sort(),
          ["goals", "portfolios", "task_dependencies"],
        );
        assert.equal(skipped.every(([, status]) => status === 402), true);
      }
      await dest.close();
    } finally {
      await fake.close();
    }
  });
}

Deno.test("a free plan's 402s are one clear line each in the run summary", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ premium: false, tasksPerProject: 3 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const r = await runCli(["run", `${ROOT}pipelines/asana.yaml`, "--db", `${dir.path}/db`], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("skipped "));
    assert.deepEqual(lines.map((l) => l.split(" ").slice(0, 4).join(" ")), [
      "skipped 2 portfolios request(s)",
      "skipped 2 goals request(s)",
    ]);
    assert.match(
      lines[0],
      /on HTTP 402, e\.g\. portfolios \(parent \d+\): GET .*\/portfolios\?.* failed: HTTP 402: Portfolios are only available to premium users\./,
    );
  } finally {
    await fake.close();
  }
});

Deno.test("subtasks to any depth, deleted with their tasks in an incremental run", async () => {
  const fake = await startFakeAsana({ tasksPerProject: 10 });
  try {
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest });
    // a task with a grandchild subtask
    const deep = [...fake.data.subtasksOf.entries()].find(([, subs]) =>
      subs.some((s) => (fake.data.subtasksOf.get(s) ?? []).length > 0)
    )!;
    const listedParent = deep[0];
    const depth = await dest.db.query<{ n: number }>(
      `select count(*)::int as n from asana_data.subtasks s join asana_data.subtasks p
       on s.parent_task_gid = p.gid`,
    );
    assert.equal(depth.rows[0].n > 0, true);
    fake.data.deleteTask(listedParent);
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(await countsOf(dest).then((c) => c.subtasks), fake.groundTruth().subtasks);
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("a task whose subtasks are all deleted loses them, though when: makes no request", async () => {
  const fake = await startFakeAsana({ tasksPerProject: 10 });
  try {
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest });
    // a listed task with subtasks, none of which has subtasks of its own
    const listed = new Set([...fake.data.tasksOf.values()].flat());
    const [task, subs] = [...fake.data.subtasksOf.entries()].find(([t, s]) =>
      listed.has(t) && s.length > 0 &&
      s.every((x) => (fake.data.subtasksOf.get(x) ?? []).length === 0)
    )!;
    const before = await fake.requests.get("/tasks/{gid}/subtasks")!;
    for (const s of [...subs]) fake.data.deleteTask(s);
    fake.data.touchTask(task);
    assert.equal(fake.data.objects.get(task)!.num_subtasks, 0);
    await runPipeline(spec, { destination: dest });
    assert.equal(fake.requests.get("/tasks/{gid}/subtasks"), before, "a subtask listing was made");
    const left = await dest.db.query<{ n: number }>(
      `select count(*)::int as n from asana_data.subtasks where parent_task_gid = $1`,
      [task],
    );
    assert.equal(left.rows[0].n, 0);
    assert.equal((await countsOf(dest)).subtasks, fake.groundTruth().subtasks);
    await dest.close();
  } finally {
    await fake.close();
  }
});
