/** The stored state: one schema, validated when read. */
import assert from "node:assert/strict";
import { readState, StateError } from "./state.ts";
import { RefreshClocks, refreshKey, refreshMark } from "./refresh.ts";
import { parseSpec } from "../spec/load.ts";
import { buildPlan } from "../plan/plan.ts";

Deno.test("a state reads with every part defaulted, and keeps keys it does not know", () => {
  assert.deepEqual(readState({}), {
    incremental: {},
    incremental_boundary: {},
    refreshed: {},
    refreshed_parents: {},
  });
  assert.deepEqual(readState(undefined).incremental, {});
  const s = readState({ incremental: { t: { p1: "5" } }, other: { kept: true } });
  assert.equal(s.incremental.t.p1, "5");
  assert.deepEqual((s as Record<string, unknown>).other, { kept: true });
});

Deno.test("a damaged state says where, and how to rebuild it; a full refresh starts empty", () => {
  assert.throws(
    () => readState({ incremental: { tasks: { p1: 5 } } }),
    (e: unknown) =>
      e instanceof StateError && e.exitCode === 1 &&
      /damaged at incremental\.tasks\.p1: .*--full-refresh/.test(e.message),
  );
  assert.throws(() => readState({ refreshed: "yesterday" }), StateError);
  assert.deepEqual(readState({ incremental: null }, { lenient: true }).incremental, {});
});

Deno.test("refresh clocks: due when never run, when the time has come, for a parent never listed, or on a full refresh", () => {
  const { spec } = parseSpec(
    `pipeline: r
dataset: r_data
source: { base_url: "https://api.example.com" }
resources:
  projects: { path: /p, primary_key: id }
  sections: { path: /s, parent: projects, primary_key: id, refresh_every: 12h }
`,
    "spec.yaml",
  );
  const plan = buildPlan(spec);
  const sections = plan.resources.get("sections")!;
  const now = new Date("2024-05-02T00:00:00.000Z");
  const key = refreshKey("sections", "projects");
  assert.equal(key, "sections < projects");
  assert.equal(new RefreshClocks({}, now).isDue(sections, "projects", "p1"), true);
  const recent = { [key]: "2024-05-01T20:00:00.000Z" };
  const seen = { [key]: ["p1"] };
  assert.equal(
    new RefreshClocks(recent, now, false, seen).isDue(sections, "projects", "p1"),
    false,
  );
  // a project the clock never saw listed is listed now, whatever the clock says
  assert.equal(new RefreshClocks(recent, now, false, seen).isDue(sections, "projects", "p2"), true);
  assert.equal(new RefreshClocks(recent, now, true, seen).isDue(sections, "projects", "p1"), true);
  const old = { [key]: "2024-05-01T11:00:00.000Z" };
  assert.equal(new RefreshClocks(old, now, false, seen).isDue(sections, "projects", "p1"), true);
  // a resource without refresh_every is always due
  assert.equal(new RefreshClocks(recent, now).isDue(plan.resources.get("projects")!, ""), true);
  // the clock moves only where the listings ran to the end
  assert.deepEqual(new RefreshClocks(recent, now).next(plan, () => true), {
    [key]: now.toISOString(),
  });
  assert.deepEqual(new RefreshClocks(recent, now).next(plan, () => false), recent);
  // the parents seen: a deferred run adds the new parents listed to the end; a run whose
  // clock moves keeps only those it listed
  const deferred = new RefreshClocks(recent, now, false, seen);
  deferred.isDue(sections, "projects", "p1");
  deferred.isDue(sections, "projects", "p2");
  deferred.isDue(sections, "projects", "p3");
  const done = () => new Set(["p2"]);
  assert.deepEqual(deferred.nextSeen(plan, () => false, done), { [key]: ["p1", "p2"] });
  const due = new RefreshClocks(old, now, false, seen);
  due.isDue(sections, "projects", "p2");
  assert.deepEqual(due.nextSeen(plan, () => true, done), { [key]: ["p2"] });
});

Deno.test("refresh_on: a parent record whose named fields changed since its last complete listing is due now; the hashes move where the listings completed", () => {
  const { spec } = parseSpec(
    `pipeline: p
dataset: d
source: { base_url: "https://api.example.com" }
resources:
  projects: { path: /projects, fields: [gid, settings] }
  settings:
    path: /projects/{projects.gid}/settings
    parent: projects
    refresh_every: 7d
    refresh_on: [settings]
`,
    "spec.yaml",
  );
  const plan = buildPlan(spec);
  const settings = plan.resources.get("settings")!;
  const now = new Date("2024-05-02T00:00:00.000Z");
  const key = refreshKey("settings", "projects");
  const recent = { [key]: "2024-05-01T00:00:00.000Z" };
  const seen = { [key]: ["p1", "p2"] };
  const p1 = { gid: "p1", settings: [{ gid: "s1", is_important: true }] };
  const p2 = { gid: "p2", settings: [] };
  const marks = { [key]: { p1: refreshMark(p1, ["settings"]), p2: refreshMark(p2, ["settings"]) } };
  const clocks = () => new RefreshClocks(recent, now, false, seen, marks);
  // unchanged: not due; a setting added or one's values changed: due
  assert.equal(clocks().isDue(settings, "projects", "p1", p1), false);
  const added = { ...p2, settings: [{ gid: "s2", is_important: false }] };
  assert.equal(clocks().isDue(settings, "projects", "p2", added), true);
  const flipped = { ...p1, settings: [{ gid: "s1", is_important: false }] };
  assert.equal(clocks().isDue(settings, "projects", "p1", flipped), true);
  // no hash stored (a database older than refresh_on): due once
  assert.equal(
    new RefreshClocks(recent, now, false, seen).isDue(settings, "projects", "p1", p1),
    true,
  );
  // the new hash is stored for a listing that completed, the old one kept for one that did not
  const run = clocks();
  run.isDue(settings, "projects", "p1", flipped);
  run.isDue(settings, "projects", "p2", added);
  const next = run.nextMarks(plan, () => false, () => new Set(["p1"]));
  assert.deepEqual(next, {
    [key]: { p1: refreshMark(flipped, ["settings"]), p2: marks[key].p2 },
  });
  // the next run, with these hashes, does not list p1 again
  assert.equal(
    new RefreshClocks(recent, now, false, seen, next).isDue(settings, "projects", "p1", flipped),
    false,
  );
});
