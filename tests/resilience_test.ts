import assert from "node:assert/strict";
import { waitingText } from "../src/cli/progress.ts";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { parseSpec } from "../src/spec/load.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { Limiter } from "../src/extract/limiter.ts";
import { retryAfterMs } from "../src/extract/http.ts";
import { asanaSpec, serveJson, tableContents, truthFor } from "./helpers.ts";

Deno.test("5% faults, short-lived page tokens and a tight rate limit: exactly the ground truth", async () => {
  const options = { seed: 11, tasksPerProject: 12 };
  const clean = await startFakeAsana(options);
  const harsh = await startFakeAsana({
    ...options,
    faultRate: 0.05,
    offsetTtlMs: 1000,
    rateLimit: { requests: 40, windowMs: 1000 },
    maxInFlight: 6,
    latencyMs: 10,
    jitterMs: 10,
  });
  try {
    // small pages, so that listings span pages whose tokens expire; quick retries
    const edit = (s: string) =>
      s.replace("limit: 100", "limit: 4").replace(
        "    attempts: 6\n",
        "    attempts: 12\n    backoff_seconds: 0.02\n",
      );
    const expected = await PgliteDestination.open();
    await runPipeline(await asanaSpec(clean.baseUrl, clean.token, edit), { destination: expected });
    const dest = await PgliteDestination.open();
    const waits = new Set<string>();
    const result = await runPipeline(await asanaSpec(harsh.baseUrl, harsh.token, edit, true), {
      destination: dest,
      progressIntervalMs: 100,
      onProgress: (p) => {
        const w = waitingText(p);
        if (w) waits.add(w.replace(/\d+ s\b.*/, "N s"));
      },
    });
    // the progress said what the run waited for (a 429's pause, a retry)
    assert.equal(
      [...waits].some((w) => /^(paused after a 429|retrying )/.test(w)),
      true,
      [...waits].join("; "),
    );
    assert.equal(harsh.stats.faults > 0, true, "faults were injected");
    assert.equal(harsh.stats.throttled > 0, true, "the server throttled");
    assert.equal(result.retries > 0, true);
    const restarts = result.resources.reduce((n, r) => n + r.restarts, 0);
    assert.equal(harsh.stats.expired > 0, true, "page tokens expired");
    assert.equal(restarts > 0, true, "expired tokens restart listings");
    const got = await tableContents(dest);
    const spec = await asanaSpec(harsh.baseUrl, harsh.token);
    for (const [t, n] of Object.entries(truthFor(spec, harsh.groundTruth()))) {
      assert.equal(got[t].length, n, t);
    }
    assert.deepEqual(got, await tableContents(expected));
    await dest.close();
    await expected.close();
  } finally {
    await clean.close();
    await harsh.close();
  }
});

Deno.test("an expired page token restarts the listing; no record is loaded twice", async () => {
  const items = Array.from({ length: 7 }, (_, i) => ({ id: i + 1 }));
  let expiredOnce = false;
  await using api = serveJson((url) => {
    const offset = Number(url.searchParams.get("offset") ?? 0);
    if (offset === 6 && !expiredOnce) {
      expiredOnce = true;
      return {
        status: 400,
        body: { errors: [{ message: "offset: Your pagination token has expired." }] },
      };
    }
    const next = offset + 3 < items.length ? { offset: String(offset + 3) } : null;
    return { body: { data: items.slice(offset, offset + 3), next_page: next } };
  });
  const { spec } = parseSpec(
    `pipeline: x
dataset: x_data
source:
  base_url: ${api.url}
  records: data
  paginator: { type: cursor, restart_on: { status: 400, message: "pagination token" } }
resources:
  items: { path: /items, write_disposition: append }
`,
    "x.yaml",
    { configDir: "/x" },
  );
  const dest = await PgliteDestination.open();
  const result = await runPipeline(spec, { destination: dest });
  assert.equal(result.resources[0].restarts, 1);
  assert.equal(api.requests.length, 6); // 0, 3, 6 (expired), 0, 3, 6
  const rows = await dest.db.query<{ id: number }>(`select id from x_data.items order by id`);
  assert.deepEqual(rows.rows.map((r) => Number(r.id)), [1, 2, 3, 4, 5, 6, 7]);
  await dest.close();
});

Deno.test("status rules: a 404 child request is skipped, counted and named; other errors fail", async () => {
  const fake = await startFakeAsana({ tasksPerProject: 3 });
  try {
    const task = [...fake.data.tasksOf.values()][0][0];
    fake.faults.push({ match: new RegExp(`/tasks/${task}/stories$`), status: 404 });
    const dest = await PgliteDestination.open();
    const result = await runPipeline(await asanaSpec(fake.baseUrl, fake.token), {
      destination: dest,
    });
    const stories = result.resources.find((r) => r.resource === "stories")!;
    assert.equal(stories.skipped.length, 1);
    assert.equal(stories.skipped[0].status, 404);
    assert.equal(stories.skipped[0].count >= 1, true);
    assert.match(
      stories.skipped[0].example,
      new RegExp(`stories \\(parent ${task}\\): GET .*/tasks/${task}/stories`),
    );
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("auth goes only to the base URL's origin, even when next_url points elsewhere", async () => {
  const seenElsewhere: (string | null)[] = [];
  await using other = serveJson((_url, req) => {
    seenElsewhere.push(req.headers.get("authorization"));
    return { body: { data: [{ id: 3 }], next: null } };
  });
  const seenHome: (string | null)[] = [];
  await using home = serveJson((_url, req) => {
    seenHome.push(req.headers.get("authorization"));
    return { body: { data: [{ id: 1 }, { id: 2 }], next: `${other.url}/more` } };
  });
  const { spec } = parseSpec(
    `pipeline: o
dataset: o_data
source:
  base_url: ${home.url}
  auth: { type: bearer, token: top-secret-token }
  records: data
  paginator: { type: next_url, next_url_path: next }
resources:
  items: { path: /items, primary_key: id }
`,
    "o.yaml",
    { configDir: "/x" },
  );
  const dest = await PgliteDestination.open();
  const result = await runPipeline(spec, { destination: dest });
  assert.equal(result.tables.items, 3);
  assert.deepEqual(seenHome, ["Bearer top-secret-token"]);
  assert.deepEqual(seenElsewhere, [null]);
  await dest.close();
});

Deno.test("429 waits for Retry-After (seconds or an HTTP date) before retrying", async () => {
  assert.equal(retryAfterMs("3"), 3000);
  assert.equal(
    retryAfterMs("Wed, 21 Oct 2015 07:28:05 GMT", Date.parse("2015-10-21T07:28:00Z")),
    5000,
  );
  assert.equal(retryAfterMs(null), undefined);
  let calls = 0;
  const times: number[] = [];
  await using api = serveJson(() => {
    times.push(Date.now());
    return ++calls === 1
      ? {
        status: 429,
        body: { errors: [{ message: "slow down" }] },
        headers: { "retry-after": "1" },
      }
      : { body: { data: [{ id: 1 }] } };
  });
  const { spec } = parseSpec(
    `pipeline: r\ndataset: r_data\nsource: { base_url: "${api.url}", records: data }\nresources:\n  items: { path: /items }\n`,
    "r.yaml",
    { configDir: "/x" },
  );
  const dest = await PgliteDestination.open();
  const result = await runPipeline(spec, { destination: dest });
  assert.equal(result.throttled, 1);
  assert.equal(times[1] - times[0] >= 950, true, `waited ${times[1] - times[0]} ms`);
  await dest.close();
});

Deno.test("other 4xx fail at once, carrying the API's own message", async () => {
  let calls = 0;
  await using api = serveJson(() => {
    calls++;
    return { status: 400, body: { errors: [{ message: "project: Not a Long" }] } };
  });
  const { spec } = parseSpec(
    `pipeline: r\ndataset: r_data\nsource: { base_url: "${api.url}", records: data }\nresources:\n  items: { path: /items }\n`,
    "r.yaml",
    { configDir: "/x" },
  );
  const dest = await PgliteDestination.open();
  await assert.rejects(
    runPipeline(spec, { destination: dest }),
    /items: GET .*\/items failed: HTTP 400: project: Not a Long/,
  );
  assert.equal(calls, 1);
  await dest.close();
});

Deno.test("the limiter keeps its window and in-flight cap on the real clock", async () => {
  // the fake-clock tests (limiter_test.ts) prove the schedule; this one the real timers
  const limiter = new Limiter({ requestsPerMinute: 10, windowMs: 400, maxInFlight: 3 });
  let inFlight = 0;
  let peak = 0;
  const sent: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 25 }, async () => {
    const release = await limiter.acquire();
    sent.push(performance.now() - t0);
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    release();
  }));
  assert.equal(peak, 3);
  // 10 per 400 ms: the 11th and 21st requests wait a window after the 1st and 11th
  for (let i = 10; i < sent.length; i++) {
    assert.equal(sent[i] - sent[i - 10] >= 400, true, `request ${i} went too early`);
  }
  assert.equal(sent[9] < 200, true, "the first ten did not go at once");
});
