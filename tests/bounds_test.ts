/**
 * Every run ends, and credentials stay home (issue 9, points 7, 8 and 11): looping
 * paginators and recursions, slow and huge bodies, huge Retry-After, redirects and
 * next-page URLs to other origins, and URLs that are not http(s).
 */
import assert from "node:assert/strict";
import { RunError, runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { FAST_RETRY, json, serveHostile, specOf } from "./hostile.ts";

function spec(url: string, resources: string, source = ""): ReturnType<typeof specOf> {
  return specOf(`pipeline: b
dataset: b_data
source:
  base_url: ${url}
  records: data
${source}${FAST_RETRY}defaults: { primary_key: id, write_disposition: replace }
resources:
${resources}`);
}

async function inMemory<T>(fn: (dest: PgliteDestination) => Promise<T>): Promise<T> {
  const dest = await PgliteDestination.open();
  try {
    return await fn(dest);
  } finally {
    await dest.close();
  }
}

async function failure(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (e) {
    assert.equal(e instanceof RunError, true, String(e));
    return (e as Error).message;
  }
  throw new Error("the run did not fail");
}

Deno.test("a cursor that repeats fails the listing instead of looping", async () => {
  await using api = serveHostile((url) =>
    json({
      data: [{ id: Number(url.searchParams.get("offset") ?? 0) }],
      next_page: { offset: "7" },
    })
  );
  const s = spec(api.url, "  items: { path: /items }\n", "  paginator: { type: cursor }\n");
  const dest = await PgliteDestination.open();
  const message = await failure(() => runPipeline(s, { destination: dest })).finally(() =>
    dest.close()
  );
  assert.match(message, /items: the cursor paginator asked for .*offset=7 a second time/);
  assert.equal(api.requests.length <= 3, true);
});

Deno.test("a next_url that repeats, and a page_number API that ignores the page, fail clearly", async () => {
  let n = 0;
  await using api = serveHostile((url) =>
    url.pathname === "/a"
      ? json({ data: [{ id: n++ }], next: `${url.origin}/a?x=1` })
      : json({ data: [{ id: 1 }, { id: 2 }] })
  );
  const dest = await PgliteDestination.open();
  try {
    const a = spec(
      api.url,
      "  a: { path: /a, paginator: { type: next_url, next_url_path: next } }\n",
    );
    assert.match(await failure(() => runPipeline(a, { destination: dest })), /a second time/);
    const b = spec(api.url, "  b: { path: /b, paginator: { type: page_number } }\n");
    assert.match(
      await failure(() => runPipeline(b, { destination: dest })),
      /returned the same records as the page before.*honour page/,
    );
  } finally {
    await dest.close();
  }
});

Deno.test("max_pages caps an endless cursor; the capped listing deletes nothing", async () => {
  let n = 0;
  let endless = false;
  await using api = serveHostile((url) => {
    const offset = Number(url.searchParams.get("offset") ?? 0);
    if (!endless) return json({ data: [{ id: "a" }, { id: "b" }], next_page: null });
    n++;
    return json({ data: [{ id: `x${offset}` }], next_page: { offset: String(offset + 1) } });
  });
  const dest = await PgliteDestination.open();
  try {
    const s = spec(
      api.url,
      "  items: { path: /items, max_pages: 5 }\n",
      "  paginator: { type: cursor }\n",
    );
    await runPipeline(s, { destination: dest });
    endless = true;
    const result = await runPipeline(s, { destination: dest });
    assert.equal(n, 5);
    const items = result.resources.find((r) => r.resource === "items")!;
    assert.equal(items.capped, 1);
    assert.equal(items.incomplete, true);
    const rows = await dest.db.query<{ id: string }>(`select id from b_data.items order by id`);
    assert.deepEqual(rows.rows.map((r) => r.id), ["a", "b", "x0", "x1", "x2", "x3", "x4"]);
  } finally {
    await dest.close();
  }
});

Deno.test("a recursive resource never requests a record twice; a record below itself is reported, not followed", async () => {
  // 1 → 2 → 3 → 1 (a cycle), and 2 is also a child of 4 (reached twice)
  const children: Record<string, string[]> = { "1": ["2"], "2": ["3"], "3": ["1"], "4": ["2"] };
  await using api = serveHostile((url) => {
    const m = url.pathname.match(/^\/nodes\/(\w+)\/children$/);
    if (m) return json({ data: (children[m[1]] ?? []).map((id) => ({ id })) });
    return json({ data: [{ id: "1" }, { id: "4" }] });
  });
  const dest = await PgliteDestination.open();
  try {
    const s = spec(
      api.url,
      `  roots: { path: /roots }
  nodes:
    path: /nodes/{parent.id}/children
    parent: [roots, nodes]
    write_disposition: merge
`,
    );
    const result = await runPipeline(s, { destination: dest });
    const paths = api.requests.map((r) => r.url.pathname);
    assert.equal(new Set(paths).size, paths.length, `no request twice: ${paths.join(" ")}`);
    const nodes = result.resources.find((r) => r.resource === "nodes")!;
    assert.equal(nodes.cycles >= 1, true);
  } finally {
    await dest.close();
  }
});

Deno.test("timeout_seconds bounds the whole response: a body trickling a byte at a time fails", async () => {
  await using api = serveHostile(() => {
    let timer: ReturnType<typeof setInterval> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"data": ['));
        timer = setInterval(() => c.enqueue(new TextEncoder().encode(" ")), 200);
      },
      cancel() {
        clearInterval(timer);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  const s = spec(
    api.url,
    "  items: { path: /items }\n",
  ).source;
  s.retry.timeout_seconds = 0.5;
  s.retry.attempts = 1;
  // the run alone is timed (opening the database is not what is bounded)
  let elapsed = 0;
  const message = await inMemory(async (dest) => {
    const t0 = performance.now();
    const m = await failure(() =>
      runPipeline({ ...spec(api.url, "  items: { path: /items }\n"), source: s }, {
        destination: dest,
      })
    );
    elapsed = performance.now() - t0;
    return m;
  });
  assert.match(message, /timed out/);
  assert.equal(elapsed < 5000, true, `${elapsed} ms`);
});

Deno.test("a body larger than retry.max_response_mb fails the request", async () => {
  const big = JSON.stringify({ data: [{ id: 1, pad: "x".repeat(200_000) }] });
  await using api = serveHostile(() =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(big));
          c.close();
        },
      }),
      { headers: { "content-type": "application/json" } },
    )
  );
  const s = spec(api.url, "  items: { path: /items }\n");
  s.source.retry.max_response_mb = 0.1;
  assert.match(
    await inMemory((dest) => failure(() => runPipeline(s, { destination: dest }))),
    /larger than retry\.max_response_mb \(0\.1 MB\)/,
  );
});

Deno.test("a Retry-After longer than max_wait_seconds fails at once, naming the wait", async () => {
  await using api = serveHostile(() =>
    json({ errors: [{ message: "slow down" }] }, 429, { "retry-after": "3600" })
  );
  const s = spec(api.url, "  items: { path: /items }\n");
  s.source.retry.attempts = 5;
  let elapsed = 0;
  const message = await inMemory(async (dest) => {
    const t0 = performance.now();
    const m = await failure(() => runPipeline(s, { destination: dest }));
    elapsed = performance.now() - t0;
    return m;
  });
  assert.match(
    message,
    /asked to wait 3600 s \(Retry-After\), longer than retry\.max_wait_seconds \(120 s\)/,
  );
  assert.equal(elapsed < 5000, true, `${elapsed} ms`);
  assert.equal(api.requests.length, 1);
});

Deno.test("credentials follow neither a redirect nor a next_url to another origin; file: URLs are refused", async () => {
  await using other = serveHostile(() => json({ data: [{ id: "elsewhere" }], next: null }));
  let mode: "redirect" | "next" | "file" = "redirect";
  await using api = serveHostile((url) => {
    if (url.pathname === "/items" && mode === "redirect") {
      return new Response(null, { status: 302, headers: { location: `${other.url}/moved` } });
    }
    if (url.pathname === "/items" && mode === "next") {
      return json({ data: [{ id: "home" }], next: `${other.url}/page2?key=k3y-s3cr3t-value` });
    }
    return json({ data: [{ id: "home" }], next: "file:///etc/hostname" });
  });
  const s = spec(
    api.url,
    "  items: { path: /items, paginator: { type: next_url, next_url_path: next } }\n",
    "  auth: { type: api_key, name: X-Api-Key, api_key: k3y-s3cr3t-value }\n  headers: { X-Team: k3y-s3cr3t-value }\n",
  );
  const dest = await PgliteDestination.open();
  try {
    await runPipeline(s, { destination: dest, secrets: ["k3y-s3cr3t-value"] });
    mode = "next";
    await runPipeline(s, { destination: dest, secrets: ["k3y-s3cr3t-value"] });
    assert.equal(
      api.requests.every((r) => r.headers.get("x-api-key") === "k3y-s3cr3t-value"),
      true,
    );
    assert.equal(other.requests.length, 2);
    for (const r of other.requests) {
      assert.equal(r.headers.get("x-api-key"), null);
      assert.equal(r.headers.get("x-team"), null);
      assert.equal(r.url.search.includes("s3cr3t"), false);
    }
    mode = "file";
    assert.match(
      await failure(() => runPipeline(s, { destination: dest })),
      /only http: and https: URLs are requested/,
    );
  } finally {
    await dest.close();
  }
});

Deno.test("a file: base_url is refused when the spec is read", () => {
  assert.throws(
    () => spec("file:///etc", "  items: { path: /hostname }\n"),
    /source\.base_url: expected an http:\/\/ or https:\/\/ URL/,
  );
});
