/**
 * Paginator options for APIs we did not write: end-index offsets, totals in a header,
 * page sizes with page numbers, cursors in a header, has_more flags, empty pages, and
 * max_pages on the paginator. Each against a local server that logs its requests.
 */
import assert from "node:assert/strict";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { FAST_RETRY, type HostileServer, json, serveHostile, specOf } from "./hostile.ts";

const ITEMS = Array.from({ length: 23 }, (_, i) => ({ id: i + 1 }));

/** Loads `/items` with this paginator; answers with the ids loaded and the queries sent. */
async function load(
  server: HostileServer,
  paginator: string,
  records = "",
): Promise<{ ids: number[]; queries: string[]; incomplete: boolean }> {
  const spec = specOf(`pipeline: pg
dataset: pages_data
source:
  base_url: "${server.url}"
  records: "${records}"
${FAST_RETRY}resources:
  items:
    path: /items
    primary_key: id
    write_disposition: replace
    paginator: ${paginator}
`);
  const dest = await PgliteDestination.open();
  try {
    const result = await runPipeline(spec, { destination: dest });
    const rows = await dest.query<{ id: number }>(`select id from pages_data.items order by id`);
    return {
      ids: rows.rows.map((r) => Number(r.id)),
      queries: server.requests.map((r) => r.url.search),
      incomplete: result.resources[0].incomplete,
    };
  } finally {
    await dest.close();
  }
}

const all = ITEMS.map((i) => i.id);

Deno.test("offset with an end index (_start/_end) and the total in X-Total-Count", async () => {
  await using server = serveHostile((url) => {
    const start = Number(url.searchParams.get("_start"));
    const end = Number(url.searchParams.get("_end"));
    return json(ITEMS.slice(start, end), 200, { "X-Total-Count": String(ITEMS.length) });
  });
  const r = await load(
    server,
    "{ type: offset, limit: 10, offset_param: _start, end_param: _end, total_header: X-Total-Count }",
  );
  assert.deepEqual(r.ids, all);
  assert.deepEqual(r.queries, ["?_start=0&_end=10", "?_start=10&_end=20", "?_start=20&_end=30"]);
});

Deno.test("page numbers from 0 with a page size, and the number of pages from a record total", async () => {
  await using server = serveHostile((url) => {
    const page = Number(url.searchParams.get("p"));
    const size = Number(url.searchParams.get("per_page"));
    return json({ rows: ITEMS.slice(page * size, page * size + size), total: ITEMS.length });
  });
  const r = await load(
    server,
    "{ type: page_number, page_param: p, base_page: 0, limit: 10, limit_param: per_page, total_path: total }",
    "rows",
  );
  assert.deepEqual(r.ids, all);
  // 23 records at 10 a page: pages 0, 1 and 2, and no fourth request for an empty page
  assert.deepEqual(r.queries, ["?p=0&per_page=10", "?p=1&per_page=10", "?p=2&per_page=10"]);
});

Deno.test("a cursor in a response header", async () => {
  await using server = serveHostile((url) => {
    const at = Number(url.searchParams.get("after") ?? 0);
    const page = ITEMS.slice(at, at + 10);
    const next: Record<string, string> = at + 10 < ITEMS.length
      ? { "X-Next-Cursor": String(at + 10) }
      : {};
    return json({ data: page }, 200, next);
  });
  const r = await load(
    server,
    "{ type: cursor, cursor_header: X-Next-Cursor, cursor_param: after }",
    "data",
  );
  assert.deepEqual(r.ids, all);
  assert.equal(r.queries.length, 3);
});

Deno.test("has_more_path: short pages go on while the API says there is more", async () => {
  await using server = serveHostile((url) => {
    const offset = Number(url.searchParams.get("offset"));
    // the API returns at most 4 records whatever the limit, and says whether more follow
    const page = ITEMS.slice(offset, offset + 4);
    return json({ data: page, has_more: offset + 4 < ITEMS.length });
  });
  const r = await load(
    server,
    "{ type: offset, limit: 4, has_more_path: has_more }",
    "data",
  );
  assert.deepEqual(r.ids, all);
  assert.equal(r.queries.length, 6);
});

Deno.test("stop_after_empty_page: false pages past an empty page up to the total", async () => {
  await using server = serveHostile((url) => {
    const offset = Number(url.searchParams.get("offset"));
    // the second page is empty (filtered server side), the total says more follow
    const page = offset === 10 ? [] : ITEMS.slice(offset, offset + 10);
    return json({ data: page, total: ITEMS.length });
  });
  const stops = await load(server, "{ type: offset, limit: 10, total_path: total }", "data");
  assert.deepEqual(stops.ids, ITEMS.slice(0, 10).map((i) => i.id));
  server.requests.length = 0;
  const goesOn = await load(
    server,
    "{ type: offset, limit: 10, total_path: total, stop_after_empty_page: false }",
    "data",
  );
  assert.deepEqual(goesOn.ids, all.filter((id) => id <= 10 || id > 20));
  assert.equal(goesOn.queries.length, 3);
});

Deno.test("max_pages on the paginator caps the listing, which then deletes nothing", async () => {
  await using server = serveHostile((url) => {
    const offset = Number(url.searchParams.get("offset"));
    return json({ data: ITEMS.slice(offset, offset + 5) });
  });
  const r = await load(server, "{ type: offset, limit: 5, max_pages: 2 }", "data");
  assert.deepEqual(r.ids, all.slice(0, 10));
  assert.equal(r.queries.length, 2);
  assert.equal(r.incomplete, true);
});

Deno.test("an API that answers empty pages forever, with has_more true, fails instead of paging on", async () => {
  await using server = serveHostile(() => json({ data: [], more: true }));
  await assert.rejects(
    load(
      server,
      "{ type: offset, limit: 5, has_more_path: more, stop_after_empty_page: false }",
      "data",
    ),
    /26 empty pages in a row/,
  );
});
