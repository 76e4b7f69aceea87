import assert from "node:assert/strict";
import { Feeds } from "./feeds.ts";
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
  feeds.useParents(new Map([["c1", ["s1"]], ["s1", ["t2"]]]));
  const t = feeds.tracker(tasks, at, true);
  assert.equal(t.token, "a");
  t.events([{ resource: { gid: "c1" }, parent: null }, { resource: { gid: "x" }, parent: null }]);
  t.read("b");
  assert.deepEqual([...feeds.changedAmong("tasks", "p1", listed)], ["t2"]);
  assert.deepEqual(feeds.next(() => true).tasks.p1.token, "b");
  // a partition whose listings did not complete keeps its token
  assert.deepEqual(feeds.next(() => false).tasks.p1.token, "a");
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
