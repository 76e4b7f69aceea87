import assert from "node:assert/strict";
import { Feeds, staggered } from "./feeds.ts";
import { quietFocus } from "./incremental.ts";
import { buildPlan } from "../plan/plan.ts";
import { parseSpec } from "../spec/load.ts";

const { spec } = parseSpec(
  `
pipeline: p
dataset: d
source: { base_url: "http://127.0.0.1:1", records: data }
resources:
  projects: { path: /projects, primary_key: gid }
  tasks:
    path: /tasks
    parent: projects
    primary_key: gid
    params: { project: "{projects.gid}", since: "{incremental.start}" }
    incremental: { cursor: modified_at, initial: "2020-01-01T00:00:00Z" }
    reconcile: true
    write_disposition: merge
    changes:
      path: /events
      params: { resource: "{projects.gid}" }
      token_param: sync
      token_path: sync
      keys: [resource.gid, parent.gid]
      relist_every: 7d
`,
  "s.yaml",
  { configDir: "/x" },
);
const tasks = buildPlan(spec).resources.get("tasks")!;
const at = { resource: "tasks", parentKey: "p1", partition: "p1", ancestors: [] };
const now = new Date("2024-06-10T00:00:00Z");
const listed = new Set(["t1", "t2", "t3"]);

Deno.test("an event naming a comment on a subtask lists the task above it again, and nothing else", () => {
  const feeds = new Feeds(
    { tasks: { p1: { token: "a", relisted_at: now.toISOString() } } },
    now,
    false,
  );
  feeds.useParents(
    new Map([
      ["c1", [{ resource: "stories", parent: "s1" }]],
      ["s1", [{ resource: "subtasks", parent: "t2" }]],
    ]),
  );
  const t = feeds.tracker(tasks, at, true);
  assert.equal(t.token, "a");
  t.events([{ resource: { gid: "c1" }, parent: null }, { resource: { gid: "x" }, parent: null }]);
  t.read("b");
  assert.deepEqual([...feeds.changedAmong("tasks", "p1", listed)], ["t2"]);
  assert.deepEqual(feeds.next(() => true).tasks.p1.token, "b");
  // a partition whose listings did not complete keeps its token
  assert.deepEqual(feeds.next(() => false).tasks.p1.token, "a");
});

Deno.test("a named record is needed whole; those above it only on the way down; the others beside them not at all", () => {
  const feeds = new Feeds(
    { tasks: { p1: { token: "a", relisted_at: now.toISOString() } } },
    now,
    false,
  );
  // t1 ─ subtasks s1 (─ comment c1), s2 (─ comment c2); t1 has comment c0; t2 has subtask s3
  feeds.useParents(
    new Map([
      ["c0", [{ resource: "stories", parent: "t1" }]],
      ["s1", [{ resource: "subtasks", parent: "t1" }]],
      ["s2", [{ resource: "subtasks", parent: "t1" }]],
      ["c1", [{ resource: "stories", parent: "s1" }]],
      ["c2", [{ resource: "stories", parent: "s2" }]],
      ["s3", [{ resource: "subtasks", parent: "t2" }]],
    ]),
  );
  const t = feeds.tracker(tasks, at, true);
  // comment c1 edited, subtask s3 edited
  t.events([{ resource: { gid: "c1" }, parent: null }, { resource: { gid: "s3" }, parent: null }]);
  t.read("b");
  assert.deepEqual([...feeds.changedAmong("tasks", "p1", listed)].sort(), ["t1", "t2"]);
  const focus = feeds.focusOf("tasks", "p1", new Set(["t3"]))!;
  // t1 leads down to c1 through its subtasks only: its own comments are not listed again
  assert.deepEqual([...focus.need("tasks", "t1") as Set<string>], ["subtasks"]);
  assert.deepEqual([...focus.need("subtasks", "s1") as Set<string>], ["stories"]);
  assert.equal(focus.need("stories", "c1"), "whole");
  // s2 sits beside s1, unchanged: nothing below it is listed
  assert.equal(focus.need("subtasks", "s2"), "current");
  // s3 is named itself: whole, with all its children
  assert.equal(focus.need("subtasks", "s3"), "whole");
  // a subtask the table lacks is new: whole
  assert.equal(focus.need("subtasks", "s9"), "whole");
  // a task whose watched values moved is needed whole
  assert.equal(focus.need("tasks", "t3"), "whole");
  // a task beside them that changed in no way (a listing of whole records returns it)
  assert.equal(focus.need("tasks", "t4"), "current");

  // a feed that said nothing, or said "list it all", needs no focus
  const quiet = new Feeds(
    { tasks: { p1: { token: "a", relisted_at: now.toISOString() } } },
    now,
    false,
  );
  quiet.tracker(tasks, at, true).read("b");
  assert.equal(quiet.focusOf("tasks", "p1", new Set()), undefined);
  const refused = new Feeds(
    { tasks: { p1: { token: "a", relisted_at: now.toISOString() } } },
    now,
    false,
  );
  const r = refused.tracker(tasks, at, true);
  r.events([{ resource: { gid: "c1" }, parent: null }]);
  r.refused("fresh");
  assert.equal(refused.focusOf("tasks", "p1", new Set()), undefined);
});

Deno.test("a refused token lists the partition again whole; a missing one only starts the feed", () => {
  const stored = { tasks: { p1: { token: "a", relisted_at: now.toISOString() } } };
  const refused = new Feeds(stored, now, false);
  refused.tracker(tasks, at, true).refused("fresh");
  assert.deepEqual(refused.changedAmong("tasks", "p1", listed), listed);
  assert.equal(refused.figures("tasks").refused, 1);
  assert.equal(refused.next(() => true).tasks.p1.token, "fresh");

  const started = new Feeds({}, now, false);
  const t = started.tracker(tasks, at, true);
  assert.equal(t.token, undefined);
  t.refused("fresh");
  assert.equal(started.changedAmong("tasks", "p1", listed).size, 0);
  assert.equal(started.figures("tasks").started, 1);
});

Deno.test("a feed that fails keeps its old token and lists the partition whole; relist_every is the safety net", () => {
  const old = new Date(now.getTime() - 8 * 86_400_000).toISOString();
  const failing = new Feeds(
    { tasks: { p1: { token: "a", relisted_at: now.toISOString() } } },
    now,
    false,
  );
  failing.tracker(tasks, at, true).failed();
  assert.deepEqual(failing.changedAmong("tasks", "p1", listed), listed);
  assert.equal(failing.next(() => true).tasks.p1.token, "a");

  const due = new Feeds({ tasks: { p1: { token: "a", relisted_at: old } } }, now, false);
  const t = due.tracker(tasks, at, true);
  assert.equal(t.token, undefined, "a due partition asks for a fresh token");
  t.refused("fresh");
  assert.deepEqual(due.changedAmong("tasks", "p1", listed), listed);
  assert.equal(due.figures("tasks").due, 1);
  assert.equal(due.figures("tasks").refused, 0);
  assert.equal(due.next(() => true).tasks.p1.relisted_at, now.toISOString());
});

Deno.test("partitions whose feeds start together are spread evenly over relist_every: the same share is due in every stretch of time", () => {
  const every = 7 * 24 * 3600_000;
  const outcomes = Array.from({ length: 21 }, (_, i) => ({ partition: `p${i}`, firstOf: every }));
  const at = staggered(outcomes, now.getTime());
  assert.equal(at.size, 21);
  // when each is next due, in hours from now, sorted: one every 8 hours
  const due = [...at.values()].map((t) => (Date.parse(t) + every - now.getTime()) / 3600_000)
    .sort((a, b) => a - b);
  assert.deepEqual(due.map((h) => Math.round(h)), Array.from({ length: 21 }, (_, i) => 4 + 8 * i));
  // every day (24 hours) holds three of them, whichever day it is
  for (let day = 0; day < 7; day++) {
    assert.equal(due.filter((h) => h >= day * 24 && h < (day + 1) * 24).length, 3);
  }
  // the order does not depend on the order the partitions were listed in
  assert.deepEqual(staggered([...outcomes].reverse(), now.getTime()), at);
});

Deno.test("moves_cursor: where nothing tells what changed below, a record that changed is needed whole, any other its quiet children, and everything below them whole", () => {
  const focus = quietFocus("tasks", new Set(["subtasks", "stories"]), new Set(["t2"]));
  assert.deepEqual(focus.need("tasks", "t1"), new Set(["subtasks", "stories"]));
  assert.equal(focus.need("tasks", "t2"), "whole");
  assert.equal(focus.need("subtasks", "s1"), "whole");
  assert.equal(focus.need("stories", "c1"), "whole");
});

Deno.test("after a gap every token is refused and every partition listed whole: their safety nets are spread again, not all due on one day", () => {
  const every = 7 * 24 * 3600_000;
  const stored = {
    tasks: Object.fromEntries(
      Array.from({ length: 7 }, (_, i) => [`p${i}`, {
        token: `t${i}`,
        relisted_at: new Date(now.getTime() - 26 * 3600_000 - i * 20 * 3600_000).toISOString(),
      }]),
    ),
  };
  const feeds = new Feeds(stored, now, false);
  for (let i = 0; i < 7; i++) {
    const t = feeds.tracker(tasks, { ...at, partition: `p${i}`, parentKey: `p${i}` }, true);
    t.refused(`fresh${i}`);
  }
  assert.equal(feeds.figures("tasks").refused, 7);
  const next = feeds.next(() => true).tasks;
  const due = Object.values(next).map((p) =>
    Math.round((Date.parse(p.relisted_at) + every - now.getTime()) / 3600_000)
  ).sort((a, b) => a - b);
  // one a day (every 24 hours from the 12th), not seven in a week's time
  assert.deepEqual(due, [12, 36, 60, 84, 108, 132, 156]);
  assert.equal(next.p3.token, "fresh3");
});
