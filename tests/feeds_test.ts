/**
 * The change feed (`changes:`, issue 20 point 1) against the fake Asana's events: changes
 * that move no top-level task's modified_at reach the tables at the next run.
 */
import assert from "node:assert/strict";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { Ref } from "../testing/fake_asana/data.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { formatRunSummary } from "../src/cli/format.ts";
import { asanaSpec, differing, freshLoad, tableContents } from "./helpers.ts";

const SIZE = { seed: 7, tasksPerProject: 15 };
/** The shipped spec without its change feed: the mechanism switched off. */
const noFeed = (s: string) => s.replace(/\n {4}changes:\n( {6}.*\n)+/, "\n");

type Fake = Awaited<ReturnType<typeof startFakeAsana>>;

/** Changes Asana makes without moving any top-level task's modified_at. */
function quietChanges(fake: Fake): string[] {
  const d = fake.data;
  const tasks = d.all("task");
  const subtask = tasks.find((t) => t.parent instanceof Ref && (t.projects as Ref[]).length === 0)!;
  const done: string[] = [];
  // a subtask edited (its own modified_at moves, its parent's does not)
  d.touchTask(subtask.gid);
  done.push("subtask edited");
  // a comment on another subtask, then a comment edited, one pinned, one deleted
  const others = tasks.filter((t) =>
    t.parent instanceof Ref && t.gid !== subtask.gid && (d.storiesOf.get(t.gid) ?? []).length > 0
  );
  d.addStoryTo(others[0].gid);
  const stories = d.all("story").filter((s) => s.type === "comment");
  d.editStory(stories[0].gid);
  d.pinStory(stories[1].gid);
  d.removeStory(stories[2].gid);
  done.push("comments added, edited, pinned, removed");
  // one subtask deleted and another added under the same parent: the count stays
  const parent = tasks.find((t) =>
    (d.subtasksOf.get(t.gid) ?? []).length > 0 &&
    (t.projects as Ref[]).length > 0
  )!;
  d.deleteTask(d.subtasksOf.get(parent.gid)![0]);
  d.addSubtask(parent.gid);
  done.push("subtask swapped");
  // a task moved to another section, and tagged, without a story
  const listed = tasks.find((t) =>
    (t.memberships as unknown[]).length === 1 &&
    !(t.parent instanceof Ref)
  )!;
  const project = (listed.projects as Ref[])[0].gid;
  const other = d.all("section").find((s) =>
    (s.project as Ref).gid === project &&
    s.gid !== (listed.memberships as { section: Ref }[])[0].section.gid
  )!;
  d.moveToSection(listed.gid, other.gid);
  d.tagTask(listed.gid, d.all("tag")[0].gid);
  done.push("moved and tagged");
  return done;
}

Deno.test("the change feed: quiet changes (subtasks, comments, sections, tags) reach every table at the next run; without the feed they do not", async () => {
  for (const feed of [true, false]) {
    const fake = await startFakeAsana(SIZE);
    try {
      const spec = await asanaSpec(fake.baseUrl, fake.token, feed ? undefined : noFeed);
      assert.equal(spec.resources.tasks.changes !== undefined, feed);
      const dest = await PgliteDestination.open();
      const first = await runPipeline(spec, { destination: dest });
      const tasks = first.resources.find((r) => r.resource === "tasks")!;
      if (feed) assert.equal(tasks.feed!.refused + tasks.feed!.failed, 0);
      quietChanges(fake);
      const before = fake.stats.requests;
      const second = await runPipeline(spec, { destination: dest });
      const diff = differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token));
      if (feed) {
        assert.deepEqual(diff, []);
        const t = second.resources.find((r) => r.resource === "tasks")!;
        assert.equal(t.feed!.events > 0, true);
        assert.match(formatRunSummary(second), /tasks: \d+ change event\(s\) read/);
        // a third run reads the feed again and finds nothing more to do
        const third = await runPipeline(spec, { destination: dest });
        assert.equal(third.resources.find((r) => r.resource === "tasks")!.watched, 0);
        console.log(`second run: ${fake.stats.requests - before} requests (first run: ${before})`);
      } else {
        // the control: the mechanism switched off leaves subtasks and stories wrong
        assert.equal(diff.includes("subtasks") || diff.includes("stories"), true, diff.join());
      }
      await dest.close();
    } finally {
      await fake.close();
    }
  }
});

Deno.test("the change feed after a gap longer than a token's life: each project's token is refused and that project is listed again whole; the run says so", async () => {
  const fake = await startFakeAsana(SIZE);
  try {
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest });
    // changes lost to the feed (at most once), then 25 hours pass
    fake.data.dropEvents = true;
    const sub = fake.data.all("task").find((t) => t.parent instanceof Ref)!;
    fake.data.touchTask(sub.gid);
    fake.data.dropEvents = false;
    assert.equal(fake.data.eventsLost, 1);
    fake.data.advance(25 * 3600_000);
    const second = await runPipeline(spec, { destination: dest });
    const t = second.resources.find((r) => r.resource === "tasks")!;
    const projects = fake.data.all("project").length;
    assert.equal(t.feed!.refused, projects);
    assert.match(formatRunSummary(second), /feed token refused \(a gap longer than its life\)/);
    assert.deepEqual(
      differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token)),
      [],
    );
    // the next run has fresh tokens: nothing refused, nothing listed again
    const third = await runPipeline(spec, { destination: dest });
    assert.equal(third.resources.find((r) => r.resource === "tasks")!.feed!.refused, 0);
    assert.equal(third.resources.find((r) => r.resource === "tasks")!.watched, 0);
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("a like moves no modified_at and writes no event: the listing of whole records writes it; a key listing's watch of num_likes catches it; with neither it stays wrong", async () => {
  const keys = (s: string) => {
    const from = "      watch: [num_subtasks]\n      listing: records\n";
    assert.equal(s.includes(from), true, "the shipped spec's reconcile: block");
    return s.replace(from, "      watch: [num_subtasks, num_likes]\n      listing: keys\n")
      .replace("      moves_cursor: [attachments]\n", "");
  };
  const variants = [
    // the shipped spec: each run's listing of whole records writes num_likes and likes
    { name: "records", edit: undefined, exact: true },
    { name: "keys with the watch", edit: keys, exact: true },
    {
      name: "keys without the watch",
      edit: (s: string) => keys(s).replace("num_subtasks, num_likes]", "num_subtasks]"),
      exact: false,
    },
  ];
  for (const { name, edit, exact } of variants) {
    const fake = await startFakeAsana(SIZE);
    try {
      const spec = await asanaSpec(fake.baseUrl, fake.token, edit);
      const dest = await PgliteDestination.open();
      await runPipeline(spec, { destination: dest });
      const task = fake.data.all("task").find((t) => (t.projects as Ref[]).length > 0)!;
      const events = fake.data.events.length;
      fake.data.likeTask(task.gid, fake.data.all("user")[0].gid);
      assert.equal(fake.data.events.length, events);
      const second = await runPipeline(spec, { destination: dest });
      const diff = differing(
        await tableContents(dest),
        await freshLoad(fake.baseUrl, fake.token, edit),
      );
      if (exact) assert.deepEqual(diff, [], name);
      else assert.equal(diff.includes("tasks"), true, `${name}: ${diff.join()}`);
      if (name === "keys with the watch") {
        assert.equal(second.resources.find((r) => r.resource === "tasks")!.watched >= 1, true);
      }
      await dest.close();
    } finally {
      await fake.close();
    }
  }
});

Deno.test("a comment edited on a subtask costs one listing of the task's subtasks and one of the subtask's comments: nothing else below the task is listed again", async () => {
  const fake = await startFakeAsana(SIZE);
  try {
    const d = fake.data;
    // a subtask of a project's task, with a comment; the task has comments of its own and
    // other subtasks (all of them stay as they are)
    const subtask = d.all("task").find((t) => {
      if (!(t.parent instanceof Ref)) return false;
      const parent = d.objects.get((t.parent as Ref).gid)!;
      return (parent.projects as Ref[]).length > 0 &&
        (d.subtasksOf.get(parent.gid) ?? []).length > 1 &&
        (d.storiesOf.get(parent.gid) ?? []).length > 0;
    })!;
    const comment = d.addStoryTo(subtask.gid);
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest });
    d.editStory(comment.gid);
    const second = await runPipeline(spec, { destination: dest });
    const requests = (name: string) => second.resources.find((r) => r.resource === name)!.requests;
    assert.equal(requests("subtasks"), 1, "the task's subtasks, once");
    assert.equal(requests("stories"), 1, "the subtask's comments, once");
    assert.equal(requests("attachments"), 0);
    assert.deepEqual(
      differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token)),
      [],
    );
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("an event that reaches the feed late is read by the run after it arrives: the token never passes it", async () => {
  const fake = await startFakeAsana(SIZE);
  try {
    const d = fake.data;
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest });
    d.maxTickMs = 1000;
    d.eventDelayMs = 5 * 60_000;
    const subtask = d.all("task").find((t) => t.parent instanceof Ref)!;
    d.touchTask(subtask.gid);
    // the run before the event arrives cannot see the change (Asana lags too)
    const early = await runPipeline(spec, { destination: dest });
    assert.equal(early.resources.find((r) => r.resource === "tasks")!.feed!.events, 0);
    const want = await freshLoad(fake.baseUrl, fake.token);
    assert.equal(differing(await tableContents(dest), want).includes("subtasks"), true);
    // minutes later it is in the stream, after the token the early run stored
    d.advance(10 * 60_000);
    const late = await runPipeline(spec, { destination: dest });
    assert.equal(late.resources.find((r) => r.resource === "tasks")!.feed!.events, 1);
    assert.deepEqual(differing(await tableContents(dest), want), []);
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("a renamed section is in the project's events: its project's sections are listed at the next run, whatever refresh_every says; without the feed they wait for it", async () => {
  for (const feed of [true, false]) {
    const fake = await startFakeAsana(SIZE);
    try {
      const edit = feed ? undefined : noFeed;
      const spec = await asanaSpec(fake.baseUrl, fake.token, edit);
      if (!feed) assert.equal(spec.resources.tasks.changes, undefined);
      const dest = await PgliteDestination.open();
      await runPipeline(spec, { destination: dest });
      // the feed starts at the first load; a second run reads from its tokens
      await runPipeline(spec, { destination: dest });
      const section = fake.data.all("section")[4];
      fake.data.rename(section.gid, "Renamed section");
      const run = await runPipeline(spec, { destination: dest });
      const sections = run.resources.find((r) => r.resource === "sections")!;
      const names = await dest.query<{ name: string }>(
        `select name from asana_data.sections where gid = $1`,
        [section.gid],
      );
      if (feed) {
        // one request: that project's sections, not every project's
        assert.equal(sections.requests, 1);
        assert.deepEqual(names.rows, [{ name: "Renamed section" }]);
        const view = await dest.query<{ section_name: string }>(
          `select distinct section_name from asana_data.task_memberships_named
           where section_gid = $1`,
          [section.gid],
        );
        assert.deepEqual(view.rows.map((r) => r.section_name), ["Renamed section"]);
        assert.deepEqual(
          differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token)),
          [],
        );
      } else {
        assert.equal(sections.requests, 0);
        assert.notDeepEqual(names.rows, [{ name: "Renamed section" }]);
      }
      await dest.close();
    } finally {
      await fake.close();
    }
  }
});

Deno.test("the safety net after lost events lists every task's subtasks and comments again, and attachments only under tasks whose modified_at moved (moves_cursor); exact either way, wrong if comments were declared to move it", async () => {
  // the safety net is due for every project two hours on (tokens are still good)
  const hourly = (s: string) => {
    assert.equal(s.includes("relist_every: 10d"), true);
    return s.replace("relist_every: 10d", "relist_every: 1h");
  };
  const without = (s: string) => {
    const line = "      moves_cursor: [attachments]\n";
    assert.equal(s.includes(line), true);
    return hourly(s).replace(line, "");
  };
  const comments = (s: string) =>
    hourly(s).replace("moves_cursor: [attachments]", "moves_cursor: [attachments, stories]");
  const variants = [
    { name: "moves_cursor: [attachments]", edit: hourly, exact: true },
    { name: "no moves_cursor", edit: without, exact: true },
    { name: "stories declared to move it", edit: comments, exact: false },
  ];
  const seen: Record<string, { attachments: number; stories: number; due: number }> = {};
  for (const { name, edit, exact } of variants) {
    const fake = await startFakeAsana(SIZE);
    try {
      const d = fake.data;
      const spec = await asanaSpec(fake.baseUrl, fake.token, edit);
      const dest = await PgliteDestination.open();
      await runPipeline(spec, { destination: dest, now: new Date(d.now()) });
      // every event of these is lost (Asana delivers at most once)
      d.dropEvents = true;
      const top = d.all("task").filter((t) =>
        !(t.parent instanceof Ref) && (t.projects as Ref[]).length > 0
      );
      const onTop = d.all("story").filter((s) =>
        s.type === "comment" && top.some((t) => t.gid === (s.target as Ref).gid)
      );
      d.editStory(onTop[0].gid);
      d.pinStory(onTop[1].gid);
      const sub = d.all("task").find((t) =>
        t.parent instanceof Ref && (t.projects as Ref[]).length === 0 &&
        top.some((p) => p.gid === (t.parent as Ref).gid)
      )!;
      d.addAttachmentTo(sub.gid);
      d.addAttachmentTo(top[3].gid);
      d.dropEvents = false;
      assert.equal(d.eventsLost, 4);
      d.advance(2 * 3600_000);
      const second = await runPipeline(spec, { destination: dest, now: new Date(d.now()) });
      const t = second.resources.find((r) => r.resource === "tasks")!;
      const requests = (r: string) => second.resources.find((x) => x.resource === r)!.requests;
      seen[name] = {
        attachments: requests("attachments"),
        stories: requests("stories"),
        due: t.feed!.due,
      };
      const diff = differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token));
      if (exact) assert.deepEqual(diff, [], name);
      else assert.equal(diff.includes("stories"), true, `${name}: ${diff.join()}`);
      await dest.close();
    } finally {
      await fake.close();
    }
  }
  const on = seen["moves_cursor: [attachments]"], off = seen["no moves_cursor"];
  assert.equal(on.due > 0 && on.due === off.due, true, JSON.stringify(seen));
  // the same comments listed again, far fewer attachment listings
  assert.equal(on.stories, off.stories);
  assert.equal(off.attachments - on.attachments >= 50, true, JSON.stringify(seen));
  console.log(JSON.stringify(seen));
});

Deno.test("an attachment on a subtask arrives through the feed (its task's modified_at stays); one on a task moves the task's modified_at and arrives even without the feed", async () => {
  for (const feed of [true, false]) {
    const fake = await startFakeAsana(SIZE);
    try {
      const d = fake.data;
      const spec = await asanaSpec(fake.baseUrl, fake.token, feed ? undefined : noFeed);
      const dest = await PgliteDestination.open();
      await runPipeline(spec, { destination: dest });
      const top = d.all("task").filter((t) =>
        !(t.parent instanceof Ref) && (t.projects as Ref[]).length > 0
      );
      const sub = d.all("task").find((t) =>
        t.parent instanceof Ref && (t.projects as Ref[]).length === 0 &&
        top.some((p) => p.gid === (t.parent as Ref).gid)
      )!;
      const parentBefore = d.objects.get((sub.parent as Ref).gid)!.modified_at;
      const onSub = d.addAttachmentTo(sub.gid);
      assert.equal(d.objects.get((sub.parent as Ref).gid)!.modified_at, parentBefore);
      const second = await runPipeline(spec, { destination: dest });
      const has = async (gid: string) =>
        (await dest.query(`select 1 from asana_data.attachments where gid = $1`, [gid])).rows
          .length === 1;
      const fresh = await freshLoad(fake.baseUrl, fake.token);
      const diff = differing(await tableContents(dest), fresh);
      if (feed) {
        assert.deepEqual(diff, []);
        assert.equal(await has(onSub.gid), true);
        // the subtask's listing and its own children; not every task's attachments
        const requests = (r: string) => second.resources.find((x) => x.resource === r)!.requests;
        assert.equal(requests("attachments") <= 2, true, `${requests("attachments")}`);
      } else {
        assert.equal(await has(onSub.gid), false, "the control: no feed, no attachment");
        assert.equal(diff.includes("attachments"), true, diff.join());
      }
      // on a task: its modified_at moves, and the listing of whole records sees it, feed or not
      const onTask = d.addAttachmentTo(top[2].gid);
      await runPipeline(spec, { destination: dest });
      assert.equal(await has(onTask.gid), true);
      await dest.close();
    } finally {
      await fake.close();
    }
  }
});
