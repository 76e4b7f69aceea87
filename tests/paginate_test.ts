import assert from "node:assert/strict";
import { parseSpec } from "../src/spec/load.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { serveJson, tempDir } from "./helpers.ts";

const ITEMS = Array.from({ length: 23 }, (_, i) => ({ id: i + 1 }));

async function loadIds(
  url: string,
  source: string,
  resource = "",
  dbDir?: string,
): Promise<number[]> {
  const { spec } = parseSpec(
    `pipeline: pg
dataset: pgn_data
source:
  base_url: ${url}
${source}
resources:
  items:
    path: /items
    primary_key: id
${resource}`,
    "t.yaml",
    { configDir: "/x" },
  );
  const dest = await PgliteDestination.open(dbDir);
  await runPipeline(spec, { destination: dest });
  const r = await dest.db.query<{ id: number }>(`select id from pgn_data.items order by _dlt_id`);
  await dest.close();
  return r.rows.map((x) => Number(x.id));
}

const ALL = ITEMS.map((x) => x.id);

Deno.test("cursor paginator: token in the body, sent back as a query parameter", async () => {
  await using api = serveJson((url) => {
    const start = Number(url.searchParams.get("after") ?? 0);
    const page = ITEMS.slice(start, start + 10);
    const next = start + 10 < ITEMS.length ? { cursor: String(start + 10) } : null;
    return { body: { data: page, next } };
  });
  const ids = await loadIds(
    api.url,
    "  records: data\n  paginator: { type: cursor, cursor_path: next.cursor, cursor_param: after }",
  );
  assert.deepEqual(ids, ALL);
  assert.equal(api.requests.length, 3);
});

Deno.test("next_url paginator: follows the absolute URL in the body", async () => {
  await using api = serveJson((url) => {
    const page = Number(url.searchParams.get("page") ?? 0);
    const next = (page + 1) * 10 < ITEMS.length ? `${url.origin}/items?page=${page + 1}` : null;
    return { body: { results: ITEMS.slice(page * 10, page * 10 + 10), links: { next } } };
  });
  assert.deepEqual(
    await loadIds(
      api.url,
      "  records: results\n  paginator: { type: next_url, next_url_path: links.next }",
    ),
    ALL,
  );
});

Deno.test("offset paginator: stops on a short page, or at the total", async () => {
  await using api = serveJson((url) => {
    const offset = Number(url.searchParams.get("offset"));
    const limit = Number(url.searchParams.get("limit"));
    return { body: { rows: ITEMS.slice(offset, offset + limit), total: ITEMS.length } };
  });
  assert.deepEqual(
    await loadIds(api.url, "  records: rows\n  paginator: { type: offset, limit: 5 }"),
    ALL,
  );
  assert.equal(api.requests.length, 5);
  const before = api.requests.length;
  assert.deepEqual(
    await loadIds(
      api.url,
      "  records: rows\n  paginator: { type: offset, limit: 23, total_path: total }",
    ),
    ALL,
  );
  assert.equal(api.requests.length - before, 1);
});

Deno.test("page_number paginator: counts pages until an empty one or the page total", async () => {
  await using api = serveJson((url) => {
    const page = Number(url.searchParams.get("p"));
    return { body: { data: ITEMS.slice((page - 1) * 10, page * 10), pages: 3 } };
  });
  assert.deepEqual(
    await loadIds(
      api.url,
      "  records: data\n  paginator: { type: page_number, page_param: p, total_pages_path: pages }",
    ),
    ALL,
  );
  assert.equal(api.requests.length, 3);
});

Deno.test("link_header paginator: follows rel=next", async () => {
  await using api = serveJson((url) => {
    const page = Number(url.searchParams.get("page") ?? 0);
    const headers: Record<string, string> = {};
    if ((page + 1) * 10 < ITEMS.length) {
      headers.link = `<${url.origin}/items?page=${
        page + 1
      }>; rel="next", <${url.origin}/items?page=0>; rel="first"`;
    }
    return { body: ITEMS.slice(page * 10, page * 10 + 10), headers };
  });
  assert.deepEqual(await loadIds(api.url, "  paginator: { type: link_header }"), ALL);
});

Deno.test("single paginator: one request", async () => {
  await using api = serveJson(() => ({ body: { data: ITEMS } }));
  assert.deepEqual(await loadIds(api.url, "  records: data"), ALL);
  assert.equal(api.requests.length, 1);
});

Deno.test("auth headers, api keys and params reach the API; the key never reaches the database", async () => {
  const seen: string[] = [];
  await using api = serveJson((url, req) => {
    seen.push(
      `${req.headers.get("x-api-key")}|${url.searchParams.get("fixed")}|${
        url.searchParams.get("mine")
      }`,
    );
    return { body: { data: ITEMS.slice(0, 2) } };
  });
  await using dir = await tempDir();
  const db = `${dir.path}/db`;
  await loadIds(
    api.url,
    "  records: data\n  auth: { type: api_key, name: x-api-key, api_key: k-123456 }\n  params: { fixed: 1 }",
    "    params: { mine: yes }",
    db,
  );
  assert.deepEqual(seen, ["k-123456|1|yes"]);
  // the database directory holds the rows, and nowhere the key
  let files = 0;
  let rows = false;
  const walk = async (path: string): Promise<void> => {
    for await (const e of Deno.readDir(path)) {
      if (e.isDirectory) await walk(`${path}/${e.name}`);
      else if (e.isFile) {
        const text = new TextDecoder("latin1").decode(await Deno.readFile(`${path}/${e.name}`));
        files++;
        rows ||= text.includes("pgn_data");
        assert.equal(text.includes("k-123456"), false, `${path}/${e.name}`);
      }
    }
  };
  await walk(db);
  assert.equal(files > 100 && rows, true);
});

Deno.test("a response without records at the configured path fails with a hint", async () => {
  await using api = serveJson(() => ({ body: { items: [] } }));
  await assert.rejects(loadIds(api.url, "  records: data"), /no records at "data"; set records:/);
});
