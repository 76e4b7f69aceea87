/**
 * Tasks in no project (issue 20, point 5): a user's own tasks, listed only by their
 * assignee (`GET /tasks?assignee=…&workspace=…`), are loaded beside the projects' tasks,
 * merged by key; a task that leaves its last project is never deleted while Asana still
 * returns it (`reconcile.verify` asks for it by key); the users' listings, which no feed
 * covers, are the safety net of what changes below those tasks.
 */
import assert from "node:assert/strict";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { Ref } from "../testing/fake_asana/data.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { formatRunSummary } from "../src/cli/format.ts";
import { asanaSpec, differing, freshLoad, tableContents, truthFor } from "./helpers.ts";

const SIZE = { seed: 21, tasksPerProject: 10, tasksInNoProject: 2 };
/** The users' own tasks due at every run (as when a day has passed). */
const daily = (s: string) =>
  s.replace("refresh_every: { users: 24h }", "refresh_every: { users: 0s }");
/** The shipped spec without `reconcile.verify` (the control). */
const unverified = (s: string) => {
  const line = '      verify: "/tasks/{record.gid}"\n';
  assert.equal(s.includes(line), true, "the shipped spec's reconcile.verify");
  return s.replace(line, "");
};

Deno.test("tasks in no project are loaded from their assignee's listing, with their subtasks and stories", async () => {
  const fake = await startFakeAsana(SIZE);
  try {
    const own = fake.data.all("task").filter((t) =>
      (t.projects as Ref[]).length === 0 && !(t.parent instanceof Ref)
    );
    assert.equal(own.length >= 10, true);
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest });
    const got = await tableContents(dest);
    for (const [t, n] of Object.entries(truthFor(spec, fake.groundTruth()))) {
      assert.equal(got[t].length, n, t);
    }
    const loaded = await dest.query<{ gid: string }>(
      `select gid from asana_data.tasks where gid = any($1)`,
      [own.map((t) => t.gid)],
    );
    assert.equal(loaded.rows.length, own.length);
    // a subtask of a task in no project, and its story
    const sub = fake.data.all("task").find((t) =>
      t.parent instanceof Ref && own.some((o) => o.gid === (t.parent as Ref).gid)
    )!;
    const subs = await dest.query<{ n: number }>(
      `select count(*)::int as n from asana_data.stories where task_gid = $1`,
      [sub.gid],
    );
    assert.equal(subs.rows[0].n, fake.data.storiesOf.get(sub.gid)!.length);
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("a task that leaves its last project is asked for by key and kept; a deleted one is deleted", async () => {
  const fake = await startFakeAsana(SIZE);
  try {
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest });
    const d = fake.data;
    // an assigned task in exactly one project, not a subtask
    const leaving = d.all("task").find((t) =>
      (t.projects as Ref[]).length === 1 && !(t.parent instanceof Ref) &&
      t.assignee instanceof Ref
    )!;
    const deleted = d.all("task").find((t) =>
      (t.projects as Ref[]).length === 1 && !(t.parent instanceof Ref) &&
      t.gid !== leaving.gid && (d.subtasksOf.get(t.gid) ?? []).length === 0
    )!;
    d.removeFromProject(leaving.gid, (leaving.projects as Ref[])[0].gid);
    d.deleteTask(deleted.gid);
    // the users' own tasks are not due: only the projects were listed
    const second = await runPipeline(spec, { destination: dest });
    const tasks = second.resources.find((r) => r.resource === "tasks")!;
    // one request each: the deleted task answers 404, the other is still there
    assert.deepEqual(tasks.verified, { asked: 2, gone: 1, kept: 1, unanswered: 0 });
    assert.equal(tasks.deleted, 1);
    const rows = await dest.query<{ gid: string }>(
      `select gid from asana_data.tasks where gid = any($1)`,
      [[leaving.gid, deleted.gid]],
    );
    assert.deepEqual(rows.rows.map((r) => r.gid), [leaving.gid]);
    assert.match(
      formatRunSummary(second),
      /tasks: 2 record\(s\) no listing returned were asked for by key: 1 gone \(deleted\), 1 still there \(kept\)/,
    );
    // once its assignee's tasks are listed (daily), the task, now in no project, is exact
    const third = await runPipeline(await asanaSpec(fake.baseUrl, fake.token, daily), {
      destination: dest,
    });
    assert.equal(third.resources.find((r) => r.resource === "tasks")!.verified, undefined);
    assert.deepEqual(
      differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token, daily)),
      [],
    );
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("an unassigned task that leaves its last project is in no listing: kept while Asana returns it by key; without verify it is deleted", async () => {
  for (const verify of [true, false]) {
    const fake = await startFakeAsana(SIZE);
    try {
      // every listing due at every run: without verify, reconcile deletes what none lists
      const edit = (s: string) => daily(verify ? s : unverified(s));
      const spec = await asanaSpec(fake.baseUrl, fake.token, edit);
      const dest = await PgliteDestination.open();
      await runPipeline(spec, { destination: dest });
      const d = fake.data;
      const leaving = d.all("task").find((t) =>
        (t.projects as Ref[]).length === 1 && !(t.parent instanceof Ref) && t.assignee === null
      )!;
      d.removeFromProject(leaving.gid, (leaving.projects as Ref[])[0].gid);
      const second = await runPipeline(spec, { destination: dest });
      const rows = await dest.query<{ gid: string }>(
        `select gid from asana_data.tasks where gid = $1`,
        [leaving.gid],
      );
      const tasks = second.resources.find((r) => r.resource === "tasks")!;
      if (verify) {
        assert.deepEqual(tasks.verified, { asked: 1, gone: 0, kept: 1, unanswered: 0 });
        assert.equal(rows.rows.length, 1);
      } else {
        assert.equal(tasks.verified, undefined);
        assert.equal(tasks.deleted, 1);
        assert.equal(rows.rows.length, 0);
      }
      await dest.close();
    } finally {
      await fake.close();
    }
  }
});

Deno.test("tasks in no project: a new one, an edited one and a comment on one's subtask arrive with their assignee's daily listing, which lists them whole", async () => {
  const fake = await startFakeAsana(SIZE);
  try {
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest });
    const d = fake.data;
    const user = d.all("user")[2];
    const added = d.addOwnTask(user.gid);
    const own = d.all("task").filter((t) =>
      (t.projects as Ref[]).length === 0 && !(t.parent instanceof Ref) && t.gid !== added.gid
    );
    // an edited task without subtasks; a comment on the subtask of another (whose own
    // modified_at stays: only a whole listing finds it)
    d.touchTask(own.find((t) => (d.subtasksOf.get(t.gid) ?? []).length === 0)!.gid);
    const withSub = own.find((t) => (d.subtasksOf.get(t.gid) ?? []).length > 0)!;
    const modified = withSub.modified_at;
    d.addStoryTo(d.subtasksOf.get(withSub.gid)![0]);
    assert.equal(withSub.modified_at, modified);
    // before the users' listings are due: none of it is seen (no feed covers these tasks)
    const quiet = await runPipeline(spec, { destination: dest });
    assert.equal(quiet.resources.find((r) => r.resource === "tasks")!.deferred, true);
    // the summary names the listings that waited, not the whole resource
    assert.match(
      formatRunSummary(quiet),
      /^tasks: its listings under users not due \(refresh_every\); their rows were kept as they were$/m,
    );
    const rows = await dest.query<{ n: number }>(
      `select count(*)::int as n from asana_data.tasks where gid = $1`,
      [added.gid],
    );
    assert.equal(rows.rows[0].n, 0);
    // a day later: exact
    await runPipeline(await asanaSpec(fake.baseUrl, fake.token, daily), { destination: dest });
    assert.deepEqual(
      differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token, daily)),
      [],
    );
    await dest.close();
  } finally {
    await fake.close();
  }
});
