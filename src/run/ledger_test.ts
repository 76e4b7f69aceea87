/**
 * The ledger's rules, in milliseconds: no HTTP, no database. The end-to-end tests
 * (evidence_test.ts, incremental_test.ts) stay the safety net.
 */
import assert from "node:assert/strict";
import { RunLedger } from "./ledger.ts";
import { compareCursors, partitionUnder } from "./cursors.ts";
import { partitionOf } from "../extract/observer.ts";
import { buildPlan } from "../plan/plan.ts";
import { parseSpec } from "../spec/load.ts";

const specOf = (text: string) => parseSpec(text, "spec.yaml", { configDir: "/nonexistent" }).spec;

const SPEC = specOf(`pipeline: l
dataset: l_data
source: { base_url: "http://127.0.0.1:9" }
defaults: { primary_key: id }
resources:
  workspaces: { path: /w, write_disposition: replace }
  projects: { path: /p, parent: workspaces, write_disposition: replace }
  tasks:
    path: /t
    parent: projects
    write_disposition: merge
    reconcile: true
    incremental: { cursor: at, initial: "2000-01-01T00:00:00Z" }
  stories: { path: /s, parent: tasks, write_disposition: merge }
  events: { path: /e, parent: tasks, write_disposition: append }
`);
const plan = buildPlan(SPEC);
const r = (name: string) => plan.resources.get(name)!;
const at = (resource: string, parentKey: string, ancestors: [string, string][] = []) => ({
  resource,
  parentKey,
  partition: parentKey,
  ancestors: ancestors.map(([resource, partition]) => ({ resource, partition })),
});

Deno.test("a complete run: replace replaces everything, merge nothing, children of an incremental parent within refreshed parents", () => {
  const l = new RunLedger(plan);
  l.chainCompleted(at("workspaces", ""), undefined);
  l.chainCompleted(at("projects", "w1"), undefined);
  l.chainCompleted(at("tasks", "p1", [["projects", "w1"]]), "2024-01-02T00:00:00Z");
  l.chainCompleted(at("stories", "t1", [["tasks", "p1"]]), undefined);
  l.keysListed("tasks", ["t1", "t2"], true);
  assert.deepEqual(l.writesFor(r("projects"), false), {
    refreshedParents: undefined,
    currentKeys: undefined,
  });
  assert.deepEqual(l.writesFor(r("tasks"), false), {
    refreshedParents: undefined,
    currentKeys: ["t1", "t2"],
  });
  assert.deepEqual(l.writesFor(r("stories"), false).refreshedParents, ["t1"]);
  assert.deepEqual(l.nextCursors({}, () => new Set()), {
    tasks: { p1: "2024-01-02T00:00:00Z" },
  });
});

Deno.test("a skipped listing: replace narrows to refreshed parents, reconcile deletes nothing below it, cursors above it stay", () => {
  const l = new RunLedger(plan);
  l.chainCompleted(at("workspaces", ""), undefined);
  l.chainCompleted(at("projects", "w1"), undefined);
  l.chainIncomplete(at("projects", "w2"));
  l.chainCompleted(at("tasks", "p1", [["projects", "w1"]]), "2024-01-02T00:00:00Z");
  l.chainCompleted(at("tasks", "p2", [["projects", "w1"]]), "2024-01-03T00:00:00Z");
  l.chainIncomplete(at("stories", "t9", [["tasks", "p2"], ["projects", "w1"]]));
  l.keysListed("tasks", ["t1"], true);
  assert.deepEqual(l.writesFor(r("projects"), false).refreshedParents, ["w1"]);
  assert.equal(l.writesFor(r("tasks"), false).currentKeys, undefined, "an ancestor was skipped");
  assert.equal(l.writesFor(r("tasks"), false).refreshedParents, undefined, "merge: no narrowing");
  // a full refresh replaces, but only within what was seen whole
  assert.deepEqual(l.writesFor(r("projects"), true).refreshedParents, ["w1"]);
  // p2's cursor stays: a story listing below one of its tasks was skipped
  assert.deepEqual(l.nextCursors({ tasks: { p2: "old" } }, () => new Set()), {
    tasks: { p1: "2024-01-02T00:00:00Z", p2: "old" },
  });
});

Deno.test("one incomplete chain of a parent makes the parent unrefreshed, even when another chain completed", () => {
  const l = new RunLedger(plan);
  l.chainCompleted(at("stories", "t1"), undefined);
  l.chainIncomplete(at("stories", "t1"));
  l.chainCompleted(at("stories", "t2"), undefined);
  assert.deepEqual(l.refreshedParents("stories"), ["t2"]);
});

Deno.test("an incomplete key listing blocks reconciliation", () => {
  const l = new RunLedger(plan);
  l.keysListed("tasks", ["t1"], true);
  l.keysListed("tasks", [], false);
  assert.equal(l.writesFor(r("tasks"), false).currentKeys, undefined);
});

Deno.test("cursors of partitions whose parent was deleted are dropped, for_each items included", () => {
  const l = new RunLedger(plan);
  const stored = { tasks: { p1: "a", p2: "b", "p2#x": "c", "p22": "d" } };
  assert.deepEqual(l.nextCursors(stored, (p) => new Set(p === "projects" ? ["p2"] : [])), {
    tasks: { p1: "a", "p22": "d" },
  });
  assert.equal(partitionOf("p2", "x"), "p2#x");
  assert.equal(partitionOf("p2", { a: 1 }), 'p2#{"a":1}');
  assert.equal(partitionUnder("a#b#c", new Set(["a#b"])), true);
  assert.equal(partitionUnder("ab", new Set(["a"])), false);
});

Deno.test("cursor order: numbers as numbers, instants as instants whatever the offset, else text", () => {
  assert.equal(compareCursors("9", "10") < 0, true);
  assert.equal(compareCursors("12345678901234567891", "12345678901234567890") > 0, true);
  assert.equal(compareCursors("1.5", "1.25") > 0, true);
  assert.equal(
    compareCursors("2024-01-01T10:00:00+02:00", "2024-01-01T09:00:00Z") < 0,
    true,
    "08:00Z is before 09:00Z",
  );
  assert.equal(compareCursors("b", "a") > 0, true);
  assert.equal(compareCursors("10", "10"), 0);
});

Deno.test("boundary records move with their cursor only: a tainted partition keeps its old ones, a deleted parent's go", () => {
  const l = new RunLedger(plan);
  l.chainCompleted(at("tasks", "p1", [["projects", "w"]]), "2024-02-01T00:00:00Z", {
    t1: "2024-02-01T00:00:00Z",
  });
  l.chainCompleted(at("tasks", "p2", [["projects", "w"]]), "2024-02-02T00:00:00Z", {
    t2: "2024-02-02T00:00:00Z",
  });
  l.chainCompleted(at("tasks", "p3", [["projects", "w"]]), "2024-02-03T00:00:00Z", {
    t3: "2024-02-03T00:00:00Z",
  });
  // a story listing below p2's tasks failed: p2's cursor, and so its boundary, stay
  l.chainIncomplete(at("stories", "t2", [["tasks", "p2"], ["projects", "w"]]));
  const stored = { tasks: { p2: { old: "2024-01-01T00:00:00Z" }, p9: { gone: "x" } } };
  assert.deepEqual(l.nextBoundaries(stored, (p) => new Set(p === "projects" ? ["p9"] : [])), {
    tasks: {
      p1: { t1: "2024-02-01T00:00:00Z" },
      p2: { old: "2024-01-01T00:00:00Z" },
      p3: { t3: "2024-02-03T00:00:00Z" },
    },
  });
});
