/**
 * Spec language: list-valued params, `null` removing an inherited param or header, and
 * placeholders in headers, against a local server that logs what it received.
 */
import assert from "node:assert/strict";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { json, serveHostile, specOf } from "./hostile.ts";
import { SpecError } from "../src/spec/errors.ts";
import { parseSpec } from "../src/spec/load.ts";
import { testEachDestination } from "./helpers.ts";

function api() {
  return serveHostile((url) => {
    if (url.pathname === "/folders") {
      return json({ data: [{ id: "f1", tag: "red" }, { id: "f2", tag: "blue" }] });
    }
    return json({ data: [{ id: `${url.pathname}:1` }] });
  });
}

Deno.test("a list param repeats its key; null removes an inherited param or header; headers take placeholders", async () => {
  await using server = api();
  const spec = specOf(`pipeline: lang
dataset: lang_data
source:
  base_url: "${server.url}"
  records: data
  params: { limit: 100, expand: all }
  headers: { X-Client: restpipe, X-Team: core }
defaults: { primary_key: id, write_disposition: replace }
resources:
  folders:
    path: /folders
    params: { _json: [a, b], expand: null }
  files:
    path: /files
    parent: folders
    params: { tags: ["{parent.tag}", fixed, 3], limit: null }
    headers: { X-Folder: "{parent.id}", X-Team: null }
`);
  const dest = await PgliteDestination.open();
  await runPipeline(spec, { destination: dest });
  const folders = server.requests.find((r) => r.url.pathname === "/folders")!;
  assert.deepEqual(folders.url.searchParams.getAll("_json"), ["a", "b"]);
  assert.equal(folders.url.searchParams.get("limit"), "100");
  assert.equal(folders.url.searchParams.has("expand"), false, "expand: null did not remove it");
  assert.equal(folders.headers.get("x-team"), "core");
  const files = server.requests.filter((r) => r.url.pathname === "/files");
  assert.equal(files.length, 2);
  for (const r of files) {
    const folder = r.headers.get("x-folder");
    assert.ok(folder === "f1" || folder === "f2", `X-Folder: ${folder}`);
    assert.deepEqual(r.url.searchParams.getAll("tags"), [
      folder === "f1" ? "red" : "blue",
      "fixed",
      "3",
    ]);
    assert.equal(r.url.searchParams.has("limit"), false, "limit: null did not remove it");
    assert.equal(r.url.searchParams.get("expand"), "all");
    assert.equal(r.headers.get("x-client"), "restpipe");
    assert.equal(r.headers.has("x-team"), false, "X-Team: null did not remove it");
  }
  await dest.close();
});

Deno.test("placeholders inside a list param are checked like any other", () => {
  const text = `pipeline: lang
dataset: lang_data
source: { base_url: "https://api.example.com" }
resources:
  folders: { path: /folders, fields: [id, tag] }
  files:
    path: /files
    parent: folders
    params: { tags: [ok, "{parent.tga}"] }
`;
  assert.throws(
    () => parseSpec(text, "l.yaml", { configDir: "/x" }),
    (e: unknown) =>
      e instanceof SpecError &&
      /l\.yaml:9:26 resources\.files\.params\.tags\[1\]: placeholder \{parent\.tga\}: folders does not request field "tga"; did you mean "tag"\?/
        .test(e.message),
  );
});

Deno.test("for_each over a list a parent record lacks: reported, no request, and its rows are kept", async () => {
  let second = false;
  await using server = serveHostile((url) => {
    if (url.pathname === "/folders") {
      // on the second run f1 lacks its list, and f2's list is empty
      return json({
        data: second
          ? [{ id: "f1" }, { id: "f2", tags: [] }, { id: "f3", tags: ["z"] }]
          : [{ id: "f1", tags: ["x"] }, { id: "f2", tags: ["y"] }, { id: "f3", tags: ["z"] }],
      });
    }
    return json({ data: [{ id: url.pathname }] });
  });
  const spec = specOf(`pipeline: each
dataset: each_data
source: { base_url: "${server.url}", records: data }
defaults: { primary_key: id, write_disposition: replace }
resources:
  folders: { path: /folders }
  labels:
    path: /labels/{item}
    parent: folders
    for_each: "{parent.tags}"
`);
  const dest = await PgliteDestination.open();
  await runPipeline(spec, { destination: dest });
  const ids = async () =>
    (await dest.query<{ id: string }>(`select id from each_data.labels order by id`)).rows
      .map((r) => r.id);
  assert.deepEqual(await ids(), ["/labels/x", "/labels/y", "/labels/z"]);
  second = true;
  const result = await runPipeline(spec, { destination: dest });
  const labels = result.resources.find((r) => r.resource === "labels")!;
  assert.equal(labels.missingForEach, 1);
  assert.equal(labels.incomplete, true);
  // f1 said nothing: its label stays; f2 said "none": its label goes
  assert.deepEqual(await ids(), ["/labels/x", "/labels/z"]);
  await dest.close();
});

Deno.test("reconcile: {fields} sends its own field list in the key-only listing", async () => {
  const items = [
    { id: 1, name: "a", at: "2024-01-01" },
    { id: 2, name: "b", at: "2024-01-02" },
    { id: 3, name: "c", at: "2024-01-03" },
  ];
  await using server = serveHostile((url) => {
    // an API that always returns the key, and refuses it as a field
    if (url.searchParams.get("fields")?.split(",").includes("id")) {
      return json({ errors: [{ message: "id is not a field" }] }, 400);
    }
    const since = url.searchParams.get("since") ?? "";
    return json({ data: items.filter((i) => i.at >= since) });
  });
  const text = (reconcile: string) =>
    `pipeline: rec
dataset: rec_data
source: { base_url: "${server.url}", records: data, fields_param: fields }
resources:
  items:
    path: /items
    primary_key: id
    write_disposition: merge
    fields: [name, at]
    params: { since: "{incremental.start}" }
    incremental: { cursor: at, initial: "2000-01-01" }
    reconcile: ${reconcile}
`;
  const dest = await PgliteDestination.open();
  const spec = specOf(text("{ fields: [name] }"));
  await runPipeline(spec, { destination: dest });
  items.splice(1, 1);
  await runPipeline(spec, { destination: dest });
  const keyListing = server.requests.filter((r) => !r.url.searchParams.has("since"));
  assert.equal(keyListing.length, 1);
  assert.equal(keyListing[0].url.searchParams.get("fields"), "name");
  const ids = await dest.query<{ id: number }>(`select id from rec_data.items order by id`);
  assert.deepEqual(ids.rows.map((r) => Number(r.id)), [1, 3]);
  // with the primary key as the field list, the same API refuses the key listing
  await assert.rejects(
    runPipeline(specOf(text("true")), { destination: dest }),
    /id is not a field/,
  );
  await dest.close();
});

testEachDestination(
  "reconcile: {watch}: a record whose watched field moved without its cursor is listed again whole",
  async (dest) => {
    const items = [
      { id: 1, name: "a", at: "2024-01-01T00:00:00Z", kids: 0, seen: "2024-01-05T00:00:00Z" },
      { id: 2, name: "b", at: "2024-01-02T00:00:00Z", kids: 2, seen: "2024-01-05T00:00:00Z" },
      { id: 3, name: "c", at: "2024-01-03T00:00:00Z", kids: 0, seen: "2024-01-05T00:00:00Z" },
    ];
    const kids: Record<number, string[]> = { 1: [], 2: ["x", "y"], 3: [] };
    let ignoresFields = false;
    await using server = serveHostile((url) => {
      const kid = url.pathname.match(/^\/items\/(\d+)\/kids$/);
      if (kid) return json({ data: kids[Number(kid[1])].map((k) => ({ k })) });
      const since = url.searchParams.get("since") ?? "";
      const fields = ignoresFields ? ["id", "at"] : url.searchParams.get("fields")!.split(",");
      return json({
        data: items.filter((i) => i.at >= since).map((i) =>
          Object.fromEntries(fields.map((f) => [f, i[f as keyof typeof i]]))
        ),
      });
    });
    const spec = specOf(`pipeline: watch
dataset: watch_data
source: { base_url: "${server.url}", records: data, fields_param: fields }
resources:
  items:
    path: /items
    primary_key: id
    write_disposition: merge
    fields: [id, name, at, kids, seen]
    params: { since: "{incremental.start}" }
    incremental: { cursor: at, initial: "2000-01-01T00:00:00Z" }
    reconcile: { watch: [kids, seen] }
  kids:
    path: /items/{parent.id}/kids
    parent: items
    when: kids > 0
    primary_key: k
    include_from_parent: { item: id }
    write_disposition: merge
`);
    await runPipeline(spec, { destination: dest });
    server.requests.length = 0;
    // item 1 gains a kid and a new name, item 2 loses one: neither moves its cursor
    items[0].kids = 1;
    items[0].name = "a, renamed";
    kids[1] = ["z"];
    items[1].kids = 1;
    kids[2] = ["x"];
    // the same instant written another way is no change
    items[2].seen = "2024-01-05T00:00:00.000+00:00";
    const second = await runPipeline(spec, { destination: dest });
    assert.equal(second.resources.find((r) => r.resource === "items")!.watched, 2);
    const keyListing = server.requests.find((r) =>
      r.url.searchParams.get("fields") === "id,kids,seen"
    );
    assert.ok(keyListing, "the key listing reads the watched fields");
    const whole = server.requests.filter((r) =>
      r.url.pathname === "/items" && !r.url.searchParams.has("since") &&
      r.url.searchParams.get("fields") === "id,name,at,kids,seen"
    );
    assert.equal(whole.length, 1);
    const rows = await dest.query<{ id: number; name: string; kids: number }>(
      `select id, name, kids from watch_data.items order by id`,
    );
    assert.deepEqual(
      rows.rows.map((r) => [Number(r.id), r.name, Number(r.kids)]),
      [[1, "a, renamed", 1], [2, "b", 1], [3, "c", 0]],
    );
    const k = await dest.query<{ item: number; k: string }>(
      `select item, k from watch_data.kids order by k`,
    );
    assert.deepEqual(k.rows.map((r) => [Number(r.item), r.k]), [[2, "x"], [1, "z"]]);
    // nothing moved since: no record is listed again
    const third = await runPipeline(spec, { destination: dest });
    assert.equal(third.resources.find((r) => r.resource === "items")!.watched, 0);
    // an API that leaves the watched fields out of its answer says nothing about them
    ignoresFields = true;
    const fourth = await runPipeline(spec, { destination: dest });
    assert.equal(fourth.resources.find((r) => r.resource === "items")!.watched, 0);
  },
);

Deno.test("reconcile.watch names a field the resource stores: else file:line:column", () => {
  const text = `pipeline: w
dataset: w_data
source: { base_url: "https://api.example.com", records: data }
resources:
  items:
    path: /items
    primary_key: id
    fields: [id, name, at, num_kids]
    params: { since: "{incremental.start}" }
    incremental: { cursor: at, initial: "2000-01-01" }
    reconcile: { watch: [num_kid] }
`;
  assert.throws(
    () => parseSpec(text, "w.yaml", { configDir: "/x" }),
    (e) =>
      e instanceof SpecError &&
      e.message ===
        `w.yaml:11:26 resources.items.reconcile.watch[0]: "num_kid" is not among the fields: no stored value to compare it with; did you mean "num_kids"?`,
  );
});

testEachDestination(
  "columns: hints convert values as dlt's do; what does not convert goes to a variant column, counted",
  async (dest) => {
    await using server = serveHostile(() =>
      json({
        data: [
          {
            id: 1,
            active: 1,
            flag: "true",
            count: "42",
            big: "123456789012345678901",
            amount: "12.50",
            ratio: "0.25",
            at_s: 1700000000,
            at_ms: "1700000000123",
            day: "2024-02-03",
            seen: "2024-02-03 10:20:30",
            bad: "maybe",
          },
          {
            id: 2,
            active: 0,
            flag: "FALSE",
            count: 7,
            big: 5,
            amount: "-.5",
            ratio: 3,
            at_s: "1700000001",
            at_ms: 1700000000999,
            day: "2024-02-04T05:06:07Z",
            seen: "2024-02-03",
            bad: true,
          },
        ],
      })
    );
    const spec = specOf(`pipeline: conv
dataset: conv_data
source: { base_url: "${server.url}", records: data }
resources:
  items:
    path: /items
    primary_key: id
    write_disposition: replace
    columns:
      active: boolean
      flag: boolean
      count: bigint
      big: numeric
      amount: numeric
      ratio: double precision
      at_s: { type: timestamptz, format: epoch_s }
      at_ms: { type: timestamptz, format: epoch_ms }
      day: date
      seen: timestamptz
      bad: boolean
`);
    const result = await runPipeline(spec, { destination: dest });
    assert.equal(result.unconverted, 1);
    const rows = await dest.query<Record<string, string>>(
      `select active::text, flag::text, count::text, big::text, amount::text, ratio::text,
              to_char(at_s at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') as at_s,
              to_char(at_ms at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') as at_ms,
              day::text, to_char(seen at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as seen,
              bad::text, bad__v_text
       from conv_data.items order by id`,
    );
    assert.deepEqual(rows.rows, [
      {
        active: "true",
        flag: "true",
        count: "42",
        big: "123456789012345678901",
        amount: "12.50",
        ratio: "0.25",
        at_s: "2023-11-14 22:13:20.000",
        at_ms: "2023-11-14 22:13:20.123",
        day: "2024-02-03",
        seen: "2024-02-03 10:20:30",
        bad: null,
        bad__v_text: "maybe",
      },
      {
        active: "false",
        flag: "false",
        count: "7",
        big: "5",
        amount: "-0.5",
        ratio: "3",
        at_s: "2023-11-14 22:13:21.000",
        at_ms: "2023-11-14 22:13:20.999",
        day: "2024-02-04",
        seen: "2024-02-03 00:00:00",
        bad: "true",
        bad__v_text: null,
      },
    ]);
    const types = await dest.query<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns
       where table_schema = 'conv_data' and table_name = 'items'
         and column_name in ('active', 'count', 'big', 'ratio', 'at_s', 'day')
       order by column_name`,
    );
    assert.deepEqual(types.rows.map((r) => `${r.column_name} ${r.data_type}`), [
      "active boolean",
      "at_s timestamp with time zone",
      "big numeric",
      "count bigint",
      "day date",
      "ratio double precision",
    ]);
  },
);

testEachDestination(
  "scd2: a changed record closes its version and opens a new one; a deleted one closes; child rows follow their version",
  async (dest) => {
    let items: { id: number; name: string; tags: string[] }[] = [
      { id: 1, name: "one", tags: ["a"] },
      { id: 2, name: "two", tags: ["b", "c"] },
      { id: 3, name: "three", tags: [] },
    ];
    await using server = serveHostile(() => json({ data: items }));
    const spec = specOf(`pipeline: hist
dataset: hist_data
source: { base_url: "${server.url}", records: data }
resources:
  items: { path: /items, primary_key: id, write_disposition: scd2 }
`);
    const versions = async () =>
      (await dest.query<{ v: string }>(
        `select id || ':' || name || ':' || (_dlt_valid_to is null)::text ||
                ':' || coalesce((select string_agg(t.value, ',' order by t._dlt_list_idx)
                                 from hist_data.items__tags t where t._dlt_parent_id = i._dlt_id), '')
                as v
         from hist_data.items i order by id, _dlt_valid_from`,
      )).rows.map((r) => r.v);
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(await versions(), ["1:one:true:a", "2:two:true:b,c", "3:three:true:"]);

    items = [
      { id: 1, name: "one", tags: ["a"] },
      { id: 2, name: "TWO", tags: ["c"] },
      { id: 4, name: "four", tags: ["d"] },
    ];
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(await versions(), [
      "1:one:true:a",
      "2:two:false:b,c",
      "2:TWO:true:c",
      "3:three:false:",
      "4:four:true:d",
    ]);
    // the closed version ends when the new one begins
    const edges = await dest.query<{ ok: boolean }>(
      `select (select _dlt_valid_to from hist_data.items where id = 2 and name = 'two') =
              (select _dlt_valid_from from hist_data.items where id = 2 and name = 'TWO') as ok`,
    );
    assert.equal(edges.rows[0].ok, true);

    // nothing changed: no version opens or closes
    const before = await versions();
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(await versions(), before);
  },
);

testEachDestination(
  "scd2 with incremental and reconcile: an unlisted unchanged record stays current; a deleted one closes",
  async (dest) => {
    const items = [
      { id: 1, name: "a", at: "2024-01-01" },
      { id: 2, name: "b", at: "2024-01-03" },
      { id: 3, name: "c", at: "2024-01-02" },
    ];
    await using server = serveHostile((url) => {
      const since = url.searchParams.get("since") ?? "";
      return json({ data: items.filter((i) => i.at >= since) });
    });
    const spec = specOf(`pipeline: hinc
dataset: hinc_data
source: { base_url: "${server.url}", records: data }
resources:
  items:
    path: /items
    primary_key: id
    write_disposition: scd2
    params: { since: "{incremental.start}" }
    incremental: { cursor: at, initial: "2000-01-01" }
    reconcile: true
`);
    const state = async () =>
      (await dest.query<{ v: string }>(
        `select id || ':' || name || ':' || (_dlt_valid_to is null)::text as v
         from hinc_data.items order by id, _dlt_valid_from`,
      )).rows.map((r) => r.v);
    await runPipeline(spec, { destination: dest });
    // record 1 changes, record 2 is deleted, record 3 is not listed again (unchanged)
    items[0] = { id: 1, name: "A", at: "2024-02-01" };
    items.splice(1, 1);
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(await state(), ["1:a:false", "1:A:true", "2:b:false", "3:c:true"]);
  },
);
