/** What each disposition deletes, decided without SQL, in milliseconds. */
import assert from "node:assert/strict";
import { familyRules } from "./rules.ts";
import type { RootWrite } from "./destination.ts";

const root = (over: Partial<RootWrite>): RootWrite => ({
  table: "items",
  resource: "items",
  disposition: "merge",
  keyColumns: ["id"],
  ...over,
});
const kinds = (w: RootWrite, columns = ["id", "_dlt_parent_key"], fullRefresh = false) => {
  const f = familyRules(w, { columns, fullRefresh });
  return f.rules.map((r) => r.kind);
};

Deno.test("replace: dedupe, then every older row", () => {
  assert.deepEqual(kinds(root({ disposition: "replace" })), ["dedupe", "all_older"]);
  // no key: nothing to deduplicate
  assert.deepEqual(kinds(root({ disposition: "replace", keyColumns: [] })), ["all_older"]);
});

Deno.test("replace within refreshed parents: only those parents' older rows and replaced keys", () => {
  const f = familyRules(root({ disposition: "replace", refreshedParents: ["p1"] }), {
    columns: ["id", "_dlt_parent_key"],
  });
  assert.deepEqual(f.rules, [
    { kind: "dedupe" },
    { kind: "same_key" },
    { kind: "within_parents", parents: ["p1"] },
  ]);
  // no parent refreshed: nothing of the older rows goes but replaced keys
  assert.deepEqual(kinds(root({ disposition: "replace", refreshedParents: [] })), [
    "dedupe",
    "same_key",
  ]);
  // a table without a parent key column has nothing to scope by
  assert.deepEqual(kinds(root({ disposition: "replace", refreshedParents: ["p1"] }), ["id"]), [
    "dedupe",
    "same_key",
  ]);
});

Deno.test("merge: dedupe and same key; append: nothing", () => {
  assert.deepEqual(kinds(root({})), ["dedupe", "same_key"]);
  assert.deepEqual(kinds(root({ disposition: "append" })), []);
  assert.deepEqual(kinds(root({ disposition: "append", currentKeys: ["1"] })), ["reconcile"]);
});

Deno.test("a table that never received a row has no key columns: no key rules", () => {
  const f = familyRules(root({ currentKeys: ["1"] }), { columns: [] });
  assert.equal(f.kind, "rows");
  assert.deepEqual(f.keys, []);
  assert.deepEqual(f.rules, []);
  assert.equal(f.kind === "rows" && f.trackDeleted, false);
});

Deno.test("reconcile: rows whose key the complete listing lacks", () => {
  const f = familyRules(root({ currentKeys: ["1", "2"] }), { columns: ["id"] });
  assert.deepEqual(f.rules.at(-1), { kind: "reconcile", keys: ["1", "2"] });
});

Deno.test("cascade: from each loaded parent table, and to any depth for a recursive resource", () => {
  assert.deepEqual(kinds(root({ parentTables: ["projects"] })), [
    "dedupe",
    "same_key",
    "cascade",
  ]);
  const f = familyRules(root({ parentTables: ["items"] }), { columns: ["id"] });
  assert.deepEqual(f.rules.slice(-2), [
    { kind: "cascade", parentTable: "items" },
    { kind: "cascade_recursive" },
  ]);
  assert.equal(f.kind === "rows" && f.trackDeleted, true);
});

Deno.test("a full refresh replaces whatever the disposition, but scd2 keeps its history", () => {
  assert.deepEqual(kinds(root({ disposition: "append" }), ["id"], true), ["dedupe", "all_older"]);
  assert.deepEqual(kinds(root({ disposition: "merge" }), ["id"], true), ["dedupe", "all_older"]);
  assert.equal(
    familyRules(root({ disposition: "scd2" }), { columns: ["id"], fullRefresh: true }).kind,
    "history",
  );
});

Deno.test("scd2: drop unchanged, close changed, retire absent (all or within parents), open new", () => {
  assert.deepEqual(kinds(root({ disposition: "scd2", retireAbsent: true })), [
    "dedupe",
    "note_listed",
    "drop_unchanged",
    "close_changed",
    "retire_absent",
    "open_new",
  ]);
  const within = familyRules(
    root({ disposition: "scd2", retireAbsent: true, refreshedParents: ["p1"], currentKeys: ["1"] }),
    { columns: ["id"] },
  );
  assert.deepEqual(within.rules.slice(-3), [
    { kind: "retire_absent", within: ["p1"] },
    { kind: "retire_unlisted", keys: ["1"] },
    { kind: "open_new" },
  ]);
  // no parent listed whole: nothing retires for absence
  assert.deepEqual(
    kinds(root({ disposition: "scd2", retireAbsent: true, refreshedParents: [] })),
    ["dedupe", "note_listed", "drop_unchanged", "close_changed", "open_new"],
  );
  // incremental scd2 (retireAbsent false) never retires for absence
  assert.deepEqual(kinds(root({ disposition: "scd2" })), [
    "dedupe",
    "note_listed",
    "drop_unchanged",
    "close_changed",
    "open_new",
  ]);
  assert.deepEqual(kinds(root({ disposition: "scd2", keyColumns: [] })), ["open_new"]);
});
