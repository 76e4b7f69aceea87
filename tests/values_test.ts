/**
 * Keys and values are exact (issue 9, points 4, 5 and 6): big integers, keys that
 * change type, keys holding timestamps, text with NULs and lone surrogates, dates
 * Postgres rejects, records too wide or too deep, and fields JavaScript objects
 * reserve, all served raw by a hostile API.
 */
import assert from "node:assert/strict";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { FAST_RETRY, rawJson, serveHostile, specOf } from "./hostile.ts";
import { parseJson } from "../src/core/json.ts";
import { isInstant } from "../src/normalize/types.ts";
import { canonicalKey } from "../src/core/keys.ts";

function spec(url: string, resource: string) {
  return specOf(`pipeline: v
dataset: v_data
source:
  base_url: ${url}
  records: data
${FAST_RETRY}resources:
${resource}`);
}

async function rows(dest: PgliteDestination, sql: string): Promise<Record<string, unknown>[]> {
  return (await dest.db.query<Record<string, unknown>>(sql)).rows;
}

Deno.test("integers past 2^53 stay exact in keys and values, through merge and reconcile", async () => {
  let body = `{"data": [
    {"id": 9007199254740993, "n": 12345678901234567890123, "parent": 9223372036854775807},
    {"id": 9007199254740995, "n": 1, "parent": -9223372036854775808}]}`;
  await using api = serveHostile((url) =>
    url.searchParams.get("keys") ? rawJson(body.replace(/"n": [^,]+,/g, "")) : rawJson(body)
  );
  const dest = await PgliteDestination.open();
  try {
    const s = spec(
      api.url,
      `  items:
    path: /items
    primary_key: id
    write_disposition: merge
    incremental: { cursor: updated, initial: "0" }
    params: { since: "{incremental.start}" }
    reconcile: true
`,
    );
    s.resources.items.params = { since: "{incremental.start}" };
    await runPipeline(s, { destination: dest });
    await runPipeline(s, { destination: dest });
    const got = await rows(
      dest,
      `select id::text as id, n::text as n, parent::text as parent from v_data.items order by id`,
    );
    assert.deepEqual(got, [
      { id: "9007199254740993", n: "12345678901234567890123", parent: "9223372036854775807" },
      { id: "9007199254740995", n: "1", parent: "-9223372036854775808" },
    ]);
    // the second key is gone from the API: only it is deleted (2^53+1 and +3 differ)
    body = `{"data": [{"id": 9007199254740993, "n": 1}]}`;
    await runPipeline(s, { destination: dest });
    assert.deepEqual(await rows(dest, `select id::text as id from v_data.items`), [{
      id: "9007199254740993",
    }]);
  } finally {
    await dest.close();
  }
});

Deno.test('a key sent as 1 in one run and as "1" in the next is one key; so is a key holding a timestamp', async () => {
  let body = `{"data": [{"id": 1, "at": "2024-01-01T10:00:00.000Z", "v": "a"}]}`;
  await using api = serveHostile(() => rawJson(body));
  const dest = await PgliteDestination.open();
  try {
    const one = spec(
      api.url,
      `  items: { path: /items, primary_key: id, write_disposition: merge }\n`,
    );
    const two = spec(
      api.url,
      `  events: { path: /items, primary_key: [id, at], write_disposition: merge, reconcile: true, incremental: { cursor: at, initial: "2000-01-01T00:00:00Z" } }\n`,
    );
    await runPipeline(one, { destination: dest });
    await runPipeline(two, { destination: dest });
    body = `{"data": [{"id": "1", "at": "2024-01-01T10:00:00.000Z", "v": "b"}]}`;
    await runPipeline(one, { destination: dest });
    await runPipeline(two, { destination: dest });
    assert.deepEqual(await rows(dest, `select id::text as id, v from v_data.items`), [{
      id: "1",
      v: "b",
    }]);
    assert.deepEqual(await rows(dest, `select id::text as id, v from v_data.events`), [{
      id: "1",
      v: "b",
    }]);
  } finally {
    await dest.close();
  }
  assert.equal(canonicalKey([1]), canonicalKey(["1"]));
  assert.notEqual(canonicalKey(["a/b", "c"]), canonicalKey(["a", "b/c"]));
});

Deno.test("text is stored exactly: an escaped \\u0000 stays six characters; NULs and lone surrogates become U+FFFD and are counted", async () => {
  const body = String.raw`{"data": [
    {"id": 1, "text": "a\\u0000n b"},
    {"id": 2, "text": "nul\u0000here", "nested": {"k\u0000ey": "x"}},
    {"id": 3, "text": "lone \ud800 surrogate \udc00 and a pair \ud83d\ude00"}]}`;
  await using api = serveHostile(() => rawJson(body));
  const dest = await PgliteDestination.open();
  try {
    const result = await runPipeline(
      spec(api.url, `  items: { path: /items, primary_key: id, max_nesting: 0 }\n`),
      { destination: dest },
    );
    const got = await rows(dest, `select id, text, nested::text from v_data.items order by id`);
    assert.equal(got[0].text, String.raw`a\u0000n b`);
    assert.equal(got[1].text, "nul\uFFFDhere");
    assert.equal(got[1].nested, `{"k\uFFFDey": "x"}`);
    assert.equal(got[2].text, "lone \uFFFD surrogate \uFFFD and a pair \u{1F600}");
    assert.equal(result.replacedCharacters, 4);
  } finally {
    await dest.close();
  }
  const repairs = { replacedCharacters: 0 };
  assert.deepEqual(parseJson(String.raw`{"a": "\\u0000"}`, repairs), { a: String.raw`\u0000` });
  assert.equal(repairs.replacedCharacters, 0);
});

Deno.test("dates Postgres rejects go to the variant column; they never fail a run", async () => {
  const body = `{"data": [
    {"id": 1, "at": "2024-01-01T00:00:00Z", "on": "2024-02-29"},
    {"id": 2, "at": "2023-02-30T00:00:00Z", "on": "2023-02-29"},
    {"id": 3, "at": "0000-01-01T00:00:00Z"},
    {"id": 4, "at": "2024-01-01T00:00:00+25:00"},
    {"id": 5, "at": "2024-01-01T24:30:00Z"}]}`;
  await using api = serveHostile(() => rawJson(body));
  const dest = await PgliteDestination.open();
  try {
    await runPipeline(
      spec(api.url, `  items: { path: /items, primary_key: id, columns: { on: date } }\n`),
      { destination: dest },
    );
    const got = await rows(
      dest,
      `select id, at is not null as typed, at__v_text as text, on__v_text as on_text
       from v_data.items order by id`,
    );
    assert.deepEqual(
      got.map((r) => [r.id, r.typed, r.text, r.on_text]),
      [
        [1n, true, null, null],
        [2n, false, "2023-02-30T00:00:00Z", "2023-02-29"],
        [3n, false, "0000-01-01T00:00:00Z", null],
        [4n, false, "2024-01-01T00:00:00+25:00", null],
        [5n, false, "2024-01-01T24:30:00Z", null],
      ].map(([id, ...rest]) => [Number(id), ...rest]),
    );
  } finally {
    await dest.close();
  }
  assert.equal(isInstant("2024-02-29T23:59:59.123456+05:30"), true);
  assert.equal(isInstant("2023-02-29T00:00:00Z"), false);
});

Deno.test("a record wider than a table can hold, one nested deeper than any stack, and fields named like Object's own load", async () => {
  const wide: Record<string, number> = { id: 1 };
  // past the normaliser's 4,096 remembered paths under one prefix, too
  for (let i = 0; i < 5000; i++) wide[`field_${i}`] = i;
  const deep = "[".repeat(200_000) + "]".repeat(200_000);
  const body = `{"data": [
    {"id": 3, "constructor": "c", "toString": "t", "__proto__": {"polluted": true}, "hasOwnProperty": 1}]}`;
  await using api = serveHostile((url) =>
    url.pathname === "/wide"
      ? rawJson(`{"data": [${JSON.stringify(wide)}]}`)
      : url.pathname === "/deep"
      ? rawJson(`{"data": [{"id": 2, "deep": ${deep}}]}`)
      : rawJson(body)
  );
  const dest = await PgliteDestination.open();
  try {
    await runPipeline(
      spec(
        api.url,
        `  items: { path: /items, primary_key: id }\n  wide: { path: /wide, primary_key: id }
  deep: { path: /deep, primary_key: id }\n`,
      ),
      { destination: dest },
    );
    const cols = await rows(
      dest,
      `select count(*)::int as n from information_schema.columns
       where table_schema = 'v_data' and table_name = 'wide'`,
    );
    assert.equal(cols[0].n, 401); // 400 and the overflow column
    const one = await rows(
      dest,
      `select field_0::int as first, (_dlt_overflow->>'field_4999')::int as last,
       (_dlt_overflow->>'field_4100')::int as past from v_data.wide`,
    );
    assert.deepEqual(one, [{ first: 0, last: 4999, past: 4100 }]);
    // 64 levels become child tables; the rest is kept as its JSON text in a jsonb value
    const deepest = await rows(
      dest,
      `select table_name from information_schema.columns where table_schema = 'v_data'
       and table_name like 'deep%' and data_type = 'jsonb'`,
    );
    assert.equal(deepest.length, 1);
    const deepRow = await rows(
      dest,
      `select length(value #>> '{}') as n from v_data."${deepest[0].table_name}"`,
    );
    assert.equal(deepRow[0].n, 2 * (200_000 - 64));
    const named = await rows(
      dest,
      `select "constructor", "to_string", _proto__polluted as polluted, has_own_property
       from v_data.items where id = 3`,
    );
    assert.deepEqual(named, [{
      constructor: "c",
      to_string: "t",
      polluted: true,
      has_own_property: 1,
    }]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  } finally {
    await dest.close();
  }
});

Deno.test("a key too long for a btree index loads; the run does not fail", async () => {
  // random text does not compress below the btree's limit (about 2.7 kB)
  const long = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(15_000))));
  await using api = serveHostile(() =>
    rawJson(JSON.stringify({ data: [{ id: long, v: 1 }, { id: "short", v: 2 }] }))
  );
  const dest = await PgliteDestination.open();
  try {
    const s = spec(
      api.url,
      `  items: { path: /items, primary_key: id, write_disposition: merge }\n`,
    );
    await runPipeline(s, { destination: dest });
    await runPipeline(s, { destination: dest });
    const got = await rows(dest, `select length(id) as n from v_data.items order by 1`);
    assert.deepEqual(got.map((r) => r.n), [5, long.length]);
  } finally {
    await dest.close();
  }
});
