/**
 * Snapshots of the exact statements each rule renders to in Postgres. A change to a
 * statement shows here first; the end-to-end tests (tests/dispositions_test.ts,
 * tests/evidence_test.ts) prove what the statements do on both destinations.
 */
import assert from "node:assert/strict";
import {
  deleteGoneSql,
  deleteRuleSql,
  type FamilyNames,
  historyRuleSql,
  textTable,
} from "./sql_rules.ts";

const n: FamilyNames = {
  dataset: "ds",
  table: "items",
  index: 3,
  loadId: "1700000000.000001",
  startedAt: new Date("2024-05-01T10:00:00.000Z"),
  keys: ["id"],
};
const texts = (s: { text: string }[]) => s.map((x) => x.text.replace(/\s+/g, " ").trim());
const none = new Map<string, string>();

Deno.test("dedupe, all_older and same_key", () => {
  assert.deepEqual(texts(deleteRuleSql({ kind: "dedupe" }, n, none)), [
    `insert into _restpipe_gone_3 select a."_dlt_id" from "ds"."items" a join "ds"."items" b on a."id" = b."id" where a."_dlt_load_id" = '1700000000.000001' and b."_dlt_load_id" = '1700000000.000001' and a."_dlt_id" collate "C" < b."_dlt_id" collate "C" on conflict do nothing`,
  ]);
  assert.deepEqual(texts(deleteRuleSql({ kind: "all_older" }, n, none)), [
    `insert into _restpipe_gone_3 select "_dlt_id" from "ds"."items" where "_dlt_load_id" is distinct from '1700000000.000001' on conflict do nothing`,
  ]);
  assert.deepEqual(texts(deleteRuleSql({ kind: "same_key" }, n, none)), [
    `insert into _restpipe_gone_3 select o."_dlt_id" from "ds"."items" o join "ds"."items" n on o."id" = n."id" where n."_dlt_load_id" = '1700000000.000001' and o."_dlt_load_id" is distinct from '1700000000.000001' on conflict do nothing`,
  ]);
});

Deno.test("within_parents and reconcile carry their list as one JSON parameter", () => {
  const within = deleteRuleSql({ kind: "within_parents", parents: ["p1", "p2"] }, n, none);
  assert.deepEqual(texts(within), [
    `create temp table _restpipe_parents_3 (v text primary key) on commit drop`,
    `insert into _restpipe_parents_3 select distinct value from jsonb_array_elements_text($1::text::jsonb)`,
    `insert into _restpipe_gone_3 select "_dlt_id" from "ds"."items" where "_dlt_load_id" is distinct from '1700000000.000001' and "_dlt_parent_key" in (select v from _restpipe_parents_3) on conflict do nothing`,
  ]);
  assert.deepEqual(within[1].params, ['["p1","p2"]']);
  assert.deepEqual(
    texts(deleteRuleSql({ kind: "reconcile", keys: [] }, { ...n, keys: ["a", "b"] }, none)),
    [
      `create temp table _restpipe_current_3 (v text primary key) on commit drop`,
      `insert into _restpipe_gone_3 select r."_dlt_id" from "ds"."items" r where r."_dlt_load_id" is distinct from '1700000000.000001' and array_to_json(array[r."a"::text, r."b"::text])::text not in (select v from _restpipe_current_3) on conflict do nothing`,
    ],
  );
});

Deno.test("verified_gone deletes the older rows of exactly the keys the API said are gone", () => {
  const gone = deleteRuleSql({ kind: "verified_gone", keys: ["7"] }, n, none);
  assert.deepEqual(texts(gone), [
    `create temp table _restpipe_verified_3 (v text primary key) on commit drop`,
    `insert into _restpipe_verified_3 select distinct value from jsonb_array_elements_text($1::text::jsonb)`,
    `insert into _restpipe_gone_3 select r."_dlt_id" from "ds"."items" r where r."_dlt_load_id" is distinct from '1700000000.000001' and r."id"::text in (select v from _restpipe_verified_3) on conflict do nothing`,
  ]);
  assert.deepEqual(gone[1].params, ['["7"]']);
});

Deno.test("cascades: from a parent's deleted keys (none: nothing), recursive until nothing changes", () => {
  assert.deepEqual(deleteRuleSql({ kind: "cascade", parentTable: "projects" }, n, none), []);
  const from = new Map([["projects", "_restpipe_gone_keys_1"]]);
  assert.deepEqual(texts(deleteRuleSql({ kind: "cascade", parentTable: "projects" }, n, from)), [
    `insert into _restpipe_gone_3 select "_dlt_id" from "ds"."items" where "_dlt_parent_key" in (select v from _restpipe_gone_keys_1) on conflict do nothing`,
  ]);
  const recursive = deleteRuleSql({ kind: "cascade_recursive" }, n, none);
  assert.equal(recursive[0].repeat, true);
  assert.deepEqual(texts(recursive), [
    `insert into _restpipe_gone_3 select r."_dlt_id" from "ds"."items" r where r."_dlt_parent_key" in (select g."id"::text from "ds"."items" g where g."_dlt_id" in (select id from _restpipe_gone_3) and g."id"::text not in (select n."id"::text from "ds"."items" n where n."_dlt_load_id" = '1700000000.000001')) on conflict do nothing`,
  ]);
});

Deno.test("scd2: drop unchanged, close, retire, open", () => {
  const open =
    `o."_dlt_load_id" is distinct from '1700000000.000001' and o."_dlt_valid_to" is null`;
  const at = `'2024-05-01T10:00:00.000Z'::timestamptz`;
  assert.deepEqual(texts(historyRuleSql({ kind: "note_listed" }, n)), [
    `create temp table _restpipe_scd2_seen_3 on commit drop as select distinct n."id"::text as v from "ds"."items" n where n."_dlt_load_id" = '1700000000.000001'`,
  ]);
  assert.deepEqual(texts(historyRuleSql({ kind: "drop_unchanged" }, n)), [
    `insert into _restpipe_gone_3 select n."_dlt_id" from "ds"."items" n join "ds"."items" o on o."id" = n."id" where n."_dlt_load_id" = '1700000000.000001' and ${open} and o."_dlt_hash" = n."_dlt_hash" on conflict do nothing`,
  ]);
  assert.deepEqual(texts(historyRuleSql({ kind: "close_changed" }, n)), [
    `update "ds"."items" o set "_dlt_valid_to" = ${at} where ${open} and exists (select 1 from "ds"."items" n where n."_dlt_load_id" = '1700000000.000001' and o."id" = n."id")`,
  ]);
  assert.deepEqual(texts(historyRuleSql({ kind: "retire_absent", within: "all" }, n)), [
    `update "ds"."items" o set "_dlt_valid_to" = ${at} where ${open} and true and o."id"::text not in (select v from _restpipe_scd2_seen_3)`,
  ]);
  assert.deepEqual(texts(historyRuleSql({ kind: "retire_absent", within: ["p"] }, n)).slice(-1), [
    `update "ds"."items" o set "_dlt_valid_to" = ${at} where ${open} and o."_dlt_parent_key" in (select v from _restpipe_scd2_parents_3) and o."id"::text not in (select v from _restpipe_scd2_seen_3)`,
  ]);
  assert.deepEqual(texts(historyRuleSql({ kind: "retire_unlisted", keys: ["1"] }, n)), [
    `create temp table _restpipe_scd2_current_3 (v text primary key) on commit drop`,
    `insert into _restpipe_scd2_current_3 select distinct value from jsonb_array_elements_text($1::text::jsonb)`,
    `update "ds"."items" o set "_dlt_valid_to" = ${at} where ${open} and o."id"::text not in (select v from _restpipe_scd2_current_3)`,
  ]);
  assert.deepEqual(texts(historyRuleSql({ kind: "open_new" }, n)), [
    `update "ds"."items" set "_dlt_valid_from" = ${at}, "_dlt_valid_to" = null where "_dlt_load_id" = '1700000000.000001'`,
  ]);
});

Deno.test("the picked rows go with their child rows, children first", () => {
  assert.deepEqual(texts(deleteGoneSql(n, ["items__tags"])), [
    `delete from "ds"."items__tags" where "_dlt_root_id" in (select id from _restpipe_gone_3)`,
    `delete from "ds"."items" where "_dlt_id" in (select id from _restpipe_gone_3)`,
  ]);
  assert.deepEqual(textTable("t", []).length, 1);
});
