import assert from "node:assert/strict";
import { Normalizer, type TableRows } from "./normalize.ts";
import { emptySchema } from "./schema.ts";
import { fitIdentifier, snakeCase } from "./naming.ts";
import { inferType } from "./types.ts";
import { parseSpec } from "../spec/load.ts";
import { buildPlan, type PlannedResource } from "../plan/plan.ts";

function resource(extra = ""): PlannedResource {
  const { spec } = parseSpec(
    `pipeline: t
dataset: t
source: { base_url: "https://x.example" }
resources:
  items:
    path: /items
${extra}`,
    "t.yaml",
    { configDir: "/nonexistent" },
  );
  return buildPlan(spec).resources.get("items")!;
}

function normalize(records: unknown[], r = resource(), n = new Normalizer(emptySchema(), "1.0")) {
  const out: TableRows = new Map();
  n.normalize(r, records, out);
  return { out, n, schema: n.schema };
}

Deno.test("nested objects flatten into a__b columns", () => {
  const { out, schema } = normalize([{
    gid: "1",
    assignee: { gid: "7", name: "Ann", photo: { url: "u" } },
  }]);
  const row = out.get("items")![0];
  assert.equal(row.gid, "1");
  assert.equal(row.assignee__gid, "7");
  assert.equal(row.assignee__name, "Ann");
  assert.equal(row.assignee__photo__url, "u");
  assert.equal(schema.tables.items.columns.assignee__gid.type, "text");
});

Deno.test("lists become child tables linked by parent id and list index; scalars fill value", () => {
  const { out, schema } = normalize([{
    gid: "1",
    tags: [{ gid: "a" }, { gid: "b" }],
    domains: ["x.com", "y.com"],
  }]);
  const root = out.get("items")![0];
  const tags = out.get("items__tags")!;
  assert.deepEqual(tags.map((t) => [t.gid, t._dlt_list_idx, t._dlt_parent_id, t._dlt_root_id]), [
    ["a", 0, root._dlt_id, root._dlt_id],
    ["b", 1, root._dlt_id, root._dlt_id],
  ]);
  assert.deepEqual(out.get("items__domains")!.map((d) => d.value), ["x.com", "y.com"]);
  assert.equal(schema.tables.items__tags.parent, "items");
  assert.equal(schema.tables.items__domains.columns.value.type, "text");
});

Deno.test("lists inside lists nest further, all rooted at the top record", () => {
  const { out } = normalize([{
    id: 1,
    memberships: [{ project: { gid: "p" }, tags: [{ n: 1 }] }],
  }]);
  const root = out.get("items")![0];
  const m = out.get("items__memberships")![0];
  const t = out.get("items__memberships__tags")![0];
  assert.equal(m.project__gid, "p");
  assert.equal(t._dlt_parent_id, m._dlt_id);
  assert.equal(t._dlt_root_id, root._dlt_id);
});

Deno.test("past max_nesting values are stored as jsonb", () => {
  const r = resource("    max_nesting: 1");
  const { out, schema } = normalize([{ a: { b: { c: 1 } }, list: [1, 2], deep: [{ x: [1] }] }], r);
  const row = out.get("items")![0];
  assert.deepEqual(row.a__b, { c: 1 });
  assert.equal(schema.tables.items.columns.a__b.type, "jsonb");
  assert.deepEqual(out.get("items__list")!.map((x) => x.value), [1, 2]);
  assert.deepEqual(out.get("items__deep")![0].x, [1]);
  const flat = normalize([{ a: { b: 1 }, l: [1] }], resource("    max_nesting: 0"));
  assert.deepEqual(flat.out.get("items")![0].a, { b: 1 });
  assert.deepEqual(flat.out.get("items")![0].l, [1]);
  assert.equal(flat.out.has("items__l"), false);
});

Deno.test("types are inferred: bigint, double, boolean, timestamptz, text", () => {
  assert.equal(inferType(3), "bigint");
  assert.equal(inferType(3.5), "double precision");
  assert.equal(inferType(true), "boolean");
  assert.equal(inferType("2024-01-02T03:04:05.123Z"), "timestamptz");
  assert.equal(inferType("2024-01-02T03:04:05+02:00"), "timestamptz");
  assert.equal(inferType("2024-01-02"), "text");
  assert.equal(inferType("1206761664935906"), "text");
  assert.equal(inferType("2024-13-45T99:99:99Z"), "text");
});

Deno.test("column hints override inference, including jsonb for a nested field", () => {
  const r = resource(
    "    columns:\n      due_on: date\n      custom_fields: { type: jsonb }\n      n: text",
  );
  const { out, schema } = normalize([{ due_on: "2024-05-01", custom_fields: [{ a: 1 }], n: 5 }], r);
  const row = out.get("items")![0];
  assert.equal(schema.tables.items.columns.due_on.type, "date");
  assert.equal(schema.tables.items.columns.custom_fields.type, "jsonb");
  assert.deepEqual(row.custom_fields, [{ a: 1 }]);
  assert.equal(out.has("items__custom_fields"), false);
  assert.equal(row.n, "5");
});

Deno.test("a type conflict goes to a variant column: no failure, no lost value", () => {
  const { out, schema } = normalize([{ v: 1 }, { v: "one" }, { v: 2.5 }, { v: { x: 1 } }, {
    v: true,
  }]);
  const rows = out.get("items")!;
  assert.equal(rows[0].v, 1);
  assert.equal(rows[1].v__v_text, "one");
  // a fraction widens the bigint column instead (whatever order the values come in)
  assert.equal(schema.tables.items.columns.v.type, "double precision");
  assert.equal(rows[2].v, 2.5);
  assert.equal(rows[3].v__x, 1);
  assert.equal(rows[4].v__v_bool, true);
});

Deno.test("a double column takes integers, a text column takes numbers as text", () => {
  const { out } = normalize([{ d: 1.5, t: "a" }, { d: 2, t: 3 }]);
  const rows = out.get("items")!;
  assert.equal(rows[1].d, 2);
  assert.equal(rows[1].t, "3");
});

Deno.test("new fields add columns; the schema persists names across normalizers", () => {
  const first = normalize([{ a: 1 }]);
  const second = normalize([{ a: 2, b: "x" }], resource(), new Normalizer(first.schema, "2.0"));
  assert.deepEqual(Object.keys(second.schema.tables.items.columns), [
    "_dlt_id",
    "_dlt_load_id",
    "a",
    "b",
  ]);
  assert.equal(second.out.get("items")![0]._dlt_load_id, "2.0");
});

Deno.test("identifiers are snake_case, at most 63 bytes and collision-free", () => {
  assert.equal(snakeCase("customFields"), "custom_fields");
  assert.equal(snakeCase("HTTPServer"), "http_server");
  assert.equal(snakeCase("Émoji ✨ name"), "emoji_name");
  assert.equal(snakeCase("2fa"), "_2fa");
  assert.equal(snakeCase("_dlt_id"), "_dlt_id");
  assert.match(snakeCase("🎉"), /^_[0-9a-z]+$/);
  const long = "x".repeat(80);
  const fitted = fitIdentifier(long);
  assert.equal(new TextEncoder().encode(fitted).length <= 63, true);
  assert.notEqual(fitIdentifier("y".repeat(80)), fitted);
  const multibyte = fitIdentifier("ü".repeat(40));
  assert.equal(new TextEncoder().encode(multibyte).length <= 63, true);
  const { out } = normalize([{ userName: "a", user_name: "b", "User Name": "c" }]);
  const row = out.get("items")![0];
  assert.deepEqual([row.user_name, row.user_name_2, row.user_name_3], ["a", "b", "c"]);
});

Deno.test("long nested names stay within 63 bytes and distinct", () => {
  const key = "a_really_long_field_name_that_goes_on";
  const { out } = normalize([{ [key]: { [key]: { [key]: 1, [key + "_2"]: 2 } } }]);
  const cols = Object.keys(out.get("items")![0]).filter((c) => !c.startsWith("_dlt"));
  assert.equal(cols.length, 2);
  for (const c of cols) assert.equal(c.length <= 63, true);
  assert.notEqual(cols[0], cols[1]);
});

Deno.test("nulls add no column and no value", () => {
  const { out, schema } = normalize([{ a: null, b: { c: null } }]);
  assert.deepEqual(Object.keys(out.get("items")![0]), ["_dlt_id", "_dlt_load_id"]);
  assert.deepEqual(Object.keys(schema.tables.items.columns), ["_dlt_id", "_dlt_load_id"]);
});
