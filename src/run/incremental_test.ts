/**
 * The incremental side of a run, as extraction drives it: where listings start, which
 * records need no child request, what the next state holds. No HTTP, no database.
 */
import assert from "node:assert/strict";
import { IncrementalRun } from "./incremental.ts";
import { buildPlan } from "../plan/plan.ts";
import { parseSpec } from "../spec/load.ts";
import { watchHash } from "../core/keys.ts";

const { spec } = parseSpec(
  `pipeline: i
dataset: i_data
source: { base_url: "https://api.example.com" }
resources:
  projects: { path: /p, primary_key: id }
  tasks:
    path: /t
    parent: projects
    primary_key: id
    write_disposition: merge
    reconcile: { watch: [n] }
    fields: [id, at, n]
    params: { since: "{incremental.start}" }
    incremental: { cursor: at, initial: "2024-01-01T00:00:00Z", lag_seconds: 60 }
  stories: { path: /s, parent: tasks, primary_key: id, write_disposition: merge }
`,
  "spec.yaml",
);
const plan = buildPlan(spec);
const at = (resource: string, parentKey: string) => ({
  resource,
  parentKey,
  partition: parentKey,
  ancestors: [],
});
const none = () => new Set<string>();
/** What the last load stored of the tasks' fields (without it, every resource is backfilled). */
const shapes = {
  tasks: {
    primary_key: ["id"],
    write_disposition: "merge",
    cursor: "at",
    fields: ["at", "id", "n"],
  },
};

Deno.test("a first load starts from initial less the lag, and lists keys in its own listings", () => {
  const run = new IncrementalRun(plan, {});
  const tasks = plan.resources.get("tasks")!;
  assert.equal(run.separateKeyListing(tasks), false);
  const listing = run.listing(at("tasks", "p1"), { again: false, listsKeys: true });
  assert.equal(listing.start, "2023-12-31T23:59:00.000Z");
  assert.equal(listing.page([{ id: 1, at: "2024-03-01T00:00:00Z" }]), undefined);
  listing.completed();
  const state = run.nextState(none);
  assert.deepEqual(state.incremental, { tasks: { p1: "2024-03-01T00:00:00Z" } });
  assert.deepEqual(state.incremental_boundary, { tasks: { p1: { "1": "2024-03-01T00:00:00Z" } } });
  assert.deepEqual(run.writesFor(tasks).currentKeys, ["1"]);
});

Deno.test("the next run starts at the stored cursor; boundary records unchanged need no children", () => {
  const stored = {
    incremental: { tasks: { p1: "2024-03-01T00:00:00Z" } },
    incremental_boundary: { tasks: { p1: { "1": "2024-03-01T00:00:00Z" } } },
    shapes,
  };
  const run = new IncrementalRun(plan, stored);
  assert.equal(run.separateKeyListing(plan.resources.get("tasks")!), true);
  assert.equal(run.isNew("tasks"), false);
  const listing = run.listing(at("tasks", "p1"), { again: false, listsKeys: false });
  assert.equal(listing.start, "2024-02-29T23:59:00.000Z");
  const same = { id: 1, at: "2024-03-01T00:00:00Z" };
  const moved = { id: 2, at: "2024-03-02T00:00:00Z" };
  assert.deepEqual([...listing.page([same, moved])!], [same]);
  listing.completed();
  assert.equal(run.nextState(none).incremental.tasks.p1, "2024-03-02T00:00:00Z");
});

Deno.test("an incomplete listing moves no cursor; a listing again moves nothing", () => {
  const stored = { incremental: { tasks: { p1: "2024-03-01T00:00:00Z" } } };
  const run = new IncrementalRun(plan, stored);
  const capped = run.listing(at("tasks", "p1"), { again: false, listsKeys: false });
  capped.page([{ id: 3, at: "2024-04-01T00:00:00Z" }]);
  capped.incomplete();
  const again = run.listing(at("tasks", "p2"), { again: true, listsKeys: false });
  assert.equal(again.start, undefined);
  again.page([{ id: 4, at: "2024-04-01T00:00:00Z" }]);
  again.completed();
  assert.deepEqual(run.nextState(none).incremental, stored.incremental);
});

Deno.test("a key listing finds the records whose watched values moved or whose key is new; a deleted parent resets", () => {
  const stored = { incremental: { tasks: { p1: "2024-03-01T00:00:00Z", p2: "x" } } };
  const run = new IncrementalRun(plan, stored);
  // the stored rows: task 1 had n = 2, task 2 n = 5 (hashes of their watched values)
  run.useWatched(new Map([["tasks", new Map([["1", watchHash([2])], ["2", watchHash([5])]])]]));
  const keys = run.keyListing(at("tasks", "p1"));
  keys.page([{ id: 1, n: 3 }, { id: 2, n: 5 }, { id: 9, n: 1 }, { id: 2 }]);
  // 1 moved; 9 is a key the table lacks (filed into the parent without moving its cursor)
  assert.deepEqual([...keys.changed().keys], ["1", "9"]);
  const next = run.nextState((parent) => new Set(parent === "projects" ? ["p2"] : []));
  assert.deepEqual(next.incremental.tasks, { p1: "2024-03-01T00:00:00Z" });
});

Deno.test("a full refresh ignores the stored cursors but keeps the rest of the state", () => {
  const stored = { incremental: { tasks: { p1: "2024-03-01T00:00:00Z" } }, note: 1 };
  const run = new IncrementalRun(plan, stored, { fullRefresh: true });
  assert.equal(run.loadedBefore("tasks"), false);
  const listing = run.listing(at("tasks", "p1"), { again: false, listsKeys: true });
  assert.equal(listing.start, "2023-12-31T23:59:00.000Z");
  assert.equal((run.nextState(none) as Record<string, unknown>).note, 1);
});

Deno.test("a key listing leaves out what the partition's own listing loaded whole", () => {
  const stored = {
    incremental: { tasks: { p1: "2024-03-01T00:00:00Z" } },
    incremental_boundary: { tasks: { p1: { "1": "2024-03-01T00:00:00Z" } } },
  };
  const run = new IncrementalRun(plan, stored);
  run.useWatched(new Map([["tasks", new Map([["1", watchHash([2])]])]]));
  const listing = run.listing(at("tasks", "p1"), { again: false, listsKeys: false });
  // 1 again at the boundary, unchanged (no children fetched); 7 new since the last run
  listing.page([{ id: 1, at: "2024-03-01T00:00:00Z" }, { id: 7, at: "2024-03-05T00:00:00Z" }]);
  listing.completed();
  const keys = run.keyListing(at("tasks", "p1"));
  keys.page([{ id: 1, n: 3 }, { id: 7, n: 0 }, { id: 8, n: 0 }]);
  assert.deepEqual([...keys.changed().keys], ["1", "8"]);
  // another partition's listing loaded nothing of these
  const other = run.keyListing(at("tasks", "p2"));
  other.page([{ id: 7, n: 0 }]);
  assert.deepEqual([...other.changed().keys], ["7"]);
});

Deno.test("a field list that gained a field, or was never recorded, lists the resource again from the start (once)", () => {
  const stored = { incremental: { tasks: { p1: "2024-03-01T00:00:00Z" } } };
  for (const fields of [["at", "id"], undefined]) {
    const run = new IncrementalRun(plan, {
      ...stored,
      shapes: { tasks: { ...shapes.tasks, fields } },
    });
    assert.equal(run.isNew("tasks"), true);
    const listing = run.listing(at("tasks", "p1"), { again: false, listsKeys: false });
    assert.equal(listing.start, "2023-12-31T23:59:00.000Z");
    // the next state records the fields: the run after it is incremental again
    listing.completed();
    const next = run.nextState(none);
    assert.deepEqual(next.shapes!.tasks.fields, ["at", "id", "n"]);
    assert.equal(new IncrementalRun(plan, next).isNew("tasks"), false);
  }
});
