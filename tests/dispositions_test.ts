import assert from "node:assert/strict";
import { parseSpec } from "../src/spec/load.ts";
import { runPipeline } from "../src/pipeline.ts";
import type { Destination } from "../src/load/destination.ts";
import { serveJson, testEachDestination } from "./helpers.ts";

type Item = { id: number; name: string; tags?: { t: string }[]; org?: string };

function specFor(url: string, disposition: string, key = "id"): string {
  return `pipeline: disp
dataset: disp_data
source:
  base_url: ${url}
  records: items
resources:
  items:
    path: /items
    write_disposition: ${disposition}
    primary_key: ${key}
`;
}

/** The destination of the test being run (tests run one at a time). */
let dest: Destination;

/** Registers a test for every destination. */
function test(name: string, fn: () => Promise<void>): void {
  testEachDestination(name, (d) => {
    dest = d;
    return fn();
  });
}

async function twoRuns(disposition: string, first: Item[], second: Item[], key = "id") {
  let data = first;
  await using api = serveJson(() => ({ body: { items: data } }));
  const { spec } = parseSpec(specFor(api.url, disposition, key), "t.yaml", { configDir: "/x" });
  await runPipeline(spec, { destination: dest });
  data = second;
  const result = await runPipeline(spec, { destination: dest });
  const items = await dest.query<{ id: number; name: string; _dlt_id: string }>(
    `select id, name, _dlt_id from disp_data.items order by id, name`,
  );
  const tags = await dest.query<{ id: number; t: string }>(
    `select i.id, t.t from disp_data.items__tags t join disp_data.items i on t._dlt_parent_id = i._dlt_id
     order by i.id, t._dlt_list_idx`,
  );
  const orphans = await dest.query<{ n: number }>(
    `select count(*)::int as n from disp_data.items__tags t
     where not exists (select 1 from disp_data.items i where i._dlt_id = t._dlt_root_id)`,
  );
  return {
    items: items.rows.map((r) => [Number(r.id), r.name]),
    tags: tags.rows.map((r) => [Number(r.id), r.t]),
    orphans: orphans.rows[0].n,
    result,
  };
}

const RUN1: Item[] = [
  { id: 1, name: "one", tags: [{ t: "a" }, { t: "b" }] },
  { id: 2, name: "two", tags: [{ t: "c" }] },
  { id: 3, name: "three" },
];
const RUN2: Item[] = [
  { id: 1, name: "one v2", tags: [{ t: "z" }] },
  { id: 4, name: "four", tags: [{ t: "d" }] },
];

test("replace: the table and its child tables become exactly this run's rows", async () => {
  const r = await twoRuns("replace", RUN1, RUN2);
  assert.deepEqual(r.items, [[1, "one v2"], [4, "four"]]);
  assert.deepEqual(r.tags, [[1, "z"], [4, "d"]]);
  assert.equal(r.orphans, 0);
  assert.deepEqual(r.result.tables, { items: 2, items__tags: 2 });
});

test("append: every run adds its rows", async () => {
  const r = await twoRuns("append", RUN1, RUN2);
  assert.deepEqual(r.items, [[1, "one"], [1, "one v2"], [2, "two"], [3, "three"], [4, "four"]]);
  assert.equal(r.tags.length, 5);
  assert.equal(r.orphans, 0);
});

test("merge: upsert by key; a merged record's child rows are replaced with it", async () => {
  const r = await twoRuns("merge", RUN1, RUN2);
  assert.deepEqual(r.items, [[1, "one v2"], [2, "two"], [3, "three"], [4, "four"]]);
  assert.deepEqual(r.tags, [[1, "z"], [2, "c"], [4, "d"]]);
  assert.equal(r.orphans, 0);
});

test("merge: a key seen twice in one run keeps the last record and only its children", async () => {
  const dupes: Item[] = [
    { id: 5, name: "first", tags: [{ t: "x" }] },
    { id: 5, name: "last", tags: [{ t: "y" }] },
  ];
  const r = await twoRuns("merge", RUN1, dupes);
  assert.deepEqual(r.items, [[1, "one"], [2, "two"], [3, "three"], [5, "last"]]);
  assert.deepEqual(r.tags.filter(([id]) => id === 5), [[5, "y"]]);
  assert.equal(r.orphans, 0);
});

test("merge on a compound primary key", async () => {
  const first: Item[] = [
    { id: 1, org: "a", name: "a1", tags: [{ t: "a" }] },
    { id: 1, org: "b", name: "b1", tags: [{ t: "b" }] },
  ];
  const second: Item[] = [{ id: 1, org: "b", name: "b1 v2", tags: [{ t: "b2" }] }];
  const r = await twoRuns("merge", first, second, "[org, id]");
  assert.deepEqual(r.items, [[1, "a1"], [1, "b1 v2"]]);
  assert.deepEqual(r.tags, [[1, "a"], [1, "b2"]]);
});

test("replace with a key deduplicates records listed twice", async () => {
  const r = await twoRuns("replace", RUN1, [...RUN2, { id: 4, name: "four again" }]);
  assert.deepEqual(r.items, [[1, "one v2"], [4, "four again"]]);
});

test("a merge record without its primary key fails the run, naming the key", async () => {
  await using api = serveJson(() => ({ body: { items: [{ name: "no id" }] } }));
  const { spec } = parseSpec(specFor(api.url, "merge"), "t.yaml", { configDir: "/x" });
  await assert.rejects(
    runPipeline(spec, { destination: dest }),
    /items: a record has no primary key field "id"/,
  );
});
