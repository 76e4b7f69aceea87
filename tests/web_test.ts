/**
 * The dashboard (`show --web`, `run --web`) in a real browser: Debian's Chromium driven
 * by playwright-core, against databases loaded from the fake Asana and hostile APIs.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { type FakeAsana, startFakeAsana } from "../testing/fake_asana/mod.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { describeDataset } from "../src/show.ts";
import { ASSET_DIR, startDashboard } from "../src/web/server.ts";
import { parseSpec } from "../src/spec/load.ts";
import { buildPlan } from "../src/plan/plan.ts";
import type { Destination } from "../src/load/destination.ts";
import {
  asanaSpec,
  fastAsanaFile,
  runCli,
  serveJson,
  tempDir,
  testEachDestination,
} from "./helpers.ts";
import { launchBrowser, OUTPUT_DIR, startWebCommand, type WebCommand } from "./browser.ts";
import { freshDatabase, NO_POSTGRES } from "./pg.ts";
import { parseFleet } from "../src/fleet/config.ts";
import { openQueue, RUNS_QUEUE } from "../src/fleet/queue.ts";
import { PostgresDestination } from "../src/load/postgres.ts";

/** The fake Asana, closed at disposal. */
async function fakeAsana(
  options: Parameters<typeof startFakeAsana>[0],
): Promise<FakeAsana & AsyncDisposable> {
  const fake = await startFakeAsana(options);
  return Object.assign(fake, { [Symbol.asyncDispose]: () => fake.close() });
}

/** `run asana.yaml --web` against a fake, into a database under `dir`. */
async function runWeb(fake: FakeAsana, dir: string): Promise<WebCommand> {
  const specFile = await fastAsanaFile(dir);
  return await startWebCommand(
    ["run", specFile, "--web", "--db", `${dir}/db`],
    { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token },
  );
}

/** Loads the fake Asana twice, then records a failed load (a 400 on /workspaces). */
async function demoDatabase(dir: string): Promise<void> {
  await using fake = await fakeAsana({ tasksPerProject: 6 });
  const spec = await asanaSpec(fake.baseUrl, fake.token);
  await runPipeline(spec, { dbDir: dir });
  await runPipeline(spec, { dbDir: dir });
  fake.faults.push({ match: /\/workspaces$/, status: 400 });
  await assert.rejects(runPipeline(spec, { dbDir: dir }));
}

/** Opens the page and waits for its first render. */
async function openDashboard(page: Page, url: string): Promise<void> {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-rendered=yes]");
  assert.deepEqual(errors, []);
}

Deno.test("show --web: graph, tables with row counts, a table's rows, load chart, SQL and CSV in Chromium", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/db`;
  await demoDatabase(dir);
  // what the page must show, read straight from the database
  const dest = await PgliteDestination.open(dir);
  const summary = await describeDataset(dest, "asana_data");
  const tasks = await dest.query<{ gid: string; name: string }>(
    `select gid, name from asana_data.tasks order by gid limit 5`,
  );
  const lastLoad = (await dest.loads("asana_data")).find((l) => l.status === "completed")!;
  const resources = lastLoad.resources!;
  await dest.close();

  await using web = await startWebCommand(["show", "--web", "--db", dir]);
  await using browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const foreign: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith("http://127.0.0.1:")) foreign.push(r.url());
  });
  await openDashboard(page, web.url);
  console.log(
    `first render of ${summary.tables.length} tables: ${
      Math.round(await page.evaluate("globalThis.__restpipe.renderedAt"))
    } ms after navigation (measured, not asserted)`,
  );

  // the graph: one node per resource of the last load, edges from parents, recursion, unions
  const nodes = await page.$$eval(
    "[data-testid=graph] g.node",
    (gs) => gs.map((g) => [g.getAttribute("data-resource"), g.textContent]),
  );
  assert.deepEqual(nodes.map((n) => n[0]).sort(), Object.keys(resources).sort());
  const tasksNode = nodes.find((n) => n[0] === "tasks")![1]!;
  const tasksRows = summary.tables.find((t) => t.name === "tasks")!.rows;
  assert.match(
    tasksNode,
    new RegExp(`${lastLoad.rows.tasks} rows · ${resources.tasks.requests} req`),
  );
  assert.equal(await page.locator('[data-edge="projects>tasks"]').count(), 1);
  assert.equal(await page.locator('[data-edge="subtasks>subtasks"]').count(), 1, "recursion");
  assert.match(nodes.find((n) => n[0] === "stories")![1]!, /∪\d/, "stories has several parents");

  // the tables, children under their parents, with the database's row counts
  const listed = await page.$$eval(
    "tr.table-row",
    (trs) =>
      trs.map((
        tr,
      ) => [
        tr.getAttribute("data-table"),
        tr.querySelector("[data-rows]")!.getAttribute("data-rows"),
      ]),
  );
  assert.deepEqual(listed, summary.tables.map((t) => [t.name, String(t.rows)]));
  assert.ok(
    listed.findIndex((t) => t[0] === "tasks__followers") >
      listed.findIndex((t) => t[0] === "tasks"),
  );
  await page.screenshot({ path: `${OUTPUT_DIR}/overview.png`, fullPage: true });

  // a table: its columns and types, a page of rows, the filter
  await page.click('tr[data-table="tasks"]');
  await page.waitForSelector("[data-testid=sample] tr:nth-child(2)");
  const columns = await page.$$eval(
    "[data-testid=columns] tr[data-column]",
    (trs) => trs.map((tr) => [tr.getAttribute("data-column"), tr.children[1].textContent]),
  );
  assert.deepEqual(columns.find((c) => c[0] === "gid"), ["gid", "text"]);
  assert.deepEqual(columns.find((c) => c[0] === "modified_at"), [
    "modified_at",
    "timestamp with time zone",
  ]);
  const shown = await page.locator("[data-testid=sample] tr").count();
  assert.equal(shown - 1, Math.min(50, tasksRows));
  const wanted = tasks.rows[0];
  await page.fill("[data-testid=filter]", wanted.gid);
  await page.locator("[data-testid=page-status]", { hasText: "matching" }).waitFor();
  const filtered = await page.$$eval(
    "[data-testid=sample] tr",
    (trs) => trs.slice(1).map((tr) => tr.textContent ?? ""),
  );
  assert.ok(filtered.length >= 1 && filtered.length < tasksRows);
  assert.ok(filtered.every((t) => t.includes(wanted.gid)), "every row shown matches the filter");
  await page.screenshot({ path: `${OUTPUT_DIR}/table.png`, fullPage: true });

  // the load history: three loads, the failed one red with its error
  const bars = await page.$$eval(
    "rect.bar[data-series=rows]",
    (rs) => rs.map((r) => r.getAttribute("class")),
  );
  assert.deepEqual(bars, ["bar", "bar", "bar failed"]);
  assert.match((await page.textContent("[data-testid=failures]"))!, /failed: .*400/);

  // SQL: a result table and the same rows as CSV
  const query = "select gid, name from asana_data.tasks order by gid limit 5";
  await page.fill("[data-testid=sql]", query);
  await page.click("[data-testid=run-sql]");
  await page.waitForSelector("[data-testid=sql-result] table");
  const result = await page.$$eval(
    "[data-testid=sql-result] tr",
    (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)),
  );
  assert.deepEqual(result, [["gid", "name"], ...tasks.rows.map((r) => [r.gid, r.name])]);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click("[data-testid=csv]"),
  ]);
  await download.saveAs(`${OUTPUT_DIR}/query.csv`);
  const csv = await Deno.readTextFile(`${OUTPUT_DIR}/query.csv`);
  const quote = (s: string) => /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  assert.equal(
    csv,
    ["gid,name", ...tasks.rows.map((r) => `${r.gid},${quote(r.name)}`)].join("\r\n") + "\r\n",
  );
  await page.screenshot({ path: `${OUTPUT_DIR}/sql.png`, fullPage: true });

  // a bad query says why, in the page
  await page.fill("[data-testid=sql]", "select nope from asana_data.tasks");
  await page.click("[data-testid=run-sql]");
  assert.match((await page.textContent("[data-testid=sql-error]"))!, /nope/);

  assert.deepEqual(foreign, [], "the page loads nothing from outside restpipe");
  for (const shot of ["overview", "table", "sql"]) {
    assert.ok((await Deno.stat(`${OUTPUT_DIR}/${shot}.png`)).size > 10_000);
  }
  assert.equal(await web.stop(), 0);
});

Deno.test("show --web: every request without the token, or to another Host, gets 403", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/db`;
  await demoDatabase(dir);
  await using web = await startWebCommand(["show", "--web", "--db", dir]);
  const url = new URL(web.url);
  const token = url.searchParams.get("token")!;
  assert.ok(token.length >= 32);
  for (const path of ["/", "/app.js", "/app.css", "/api/overview", "/api/live", "/api/table"]) {
    const bare = await fetch(`${url.origin}${path}`);
    assert.equal(bare.status, 403, path);
    await bare.body?.cancel();
    const wrong = await fetch(`${url.origin}${path}?token=${"x".repeat(token.length)}`);
    assert.equal(wrong.status, 403, path);
    await wrong.body?.cancel();
    const right = await fetch(`${url.origin}${path}?token=${token}`);
    assert.notEqual(right.status, 403, path);
    await right.body?.cancel();
  }
  const post = await fetch(`${url.origin}/api/sql`, {
    method: "POST",
    body: JSON.stringify({ sql: "select 1" }),
  });
  assert.equal(post.status, 403);
  await post.body?.cancel();
  // a page on another name for this address (DNS rebinding) is refused, token or not
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(url.port) });
  await conn.write(
    new TextEncoder().encode(
      `GET /api/overview?token=${token} HTTP/1.1\r\nHost: evil.example:${url.port}\r\n` +
        `Connection: close\r\n\r\n`,
    ),
  );
  const reply = new TextDecoder().decode(
    await new Response(conn.readable).arrayBuffer(),
  );
  assert.match(reply, /^HTTP\/1\.1 403/);
  // in the browser: the bare address shows no dashboard
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  const res = await page.goto(`${url.origin}/`);
  assert.equal(res?.status(), 403);
  assert.equal(await page.locator("[data-testid=graph]").count(), 0);
  assert.equal(await web.stop(), 0);
});

/** A small API whose records carry markup and a field that changes type. */
function hostileApi() {
  return serveJson(() => ({
    body: [
      { id: 1, name: `<img src=x onerror="document.body.dataset.pwned='yes'">`, size: 3 },
      { id: 2, name: "</script><script>document.body.dataset.pwned='yes'</script>", size: "big" },
    ],
  }));
}

function hostileSpec(url: string) {
  return parseSpec(
    `pipeline: hostile
dataset: hostile_data
source:
  base_url: ${url}
resources:
  items:
    path: /items
    primary_key: id
    write_disposition: replace
`,
    "hostile.yaml",
    { configDir: "/x" },
  ).spec;
}

Deno.test("dashboard: record values are text, never markup; variant columns are flagged", async () => {
  await using api = hostileApi();
  await using tmp = await tempDir();
  const dir = `${tmp.path}/db`;
  await runPipeline(hostileSpec(api.url), { dbDir: dir });
  await using web = await startWebCommand(["show", "--web", "--db", dir]);
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await openDashboard(page, web.url);
  await page.click('tr[data-table="items"]');
  await page.waitForSelector("[data-testid=sample] tr:nth-child(3)");
  const names = await page.$$eval(
    "[data-testid=sample] td",
    (tds) => tds.map((t) => t.textContent),
  );
  assert.ok(names.some((n) => n?.startsWith("<img src=x onerror=")));
  assert.equal(await page.locator("[data-testid=sample] img").count(), 0);
  assert.equal(await page.evaluate("document.body.dataset.pwned ?? null"), null);
  // the same through the SQL box
  await page.fill("[data-testid=sql]", "select name from hostile_data.items");
  await page.click("[data-testid=run-sql]");
  await page.waitForSelector("[data-testid=sql-result] table");
  assert.equal(await page.locator("[data-testid=sql-result] img").count(), 0);
  assert.equal(await page.evaluate("document.body.dataset.pwned ?? null"), null);
  assert.deepEqual(dialogs, []);
  const variant = await page.$$eval(
    "[data-testid=columns] tr[data-column]",
    (trs) =>
      trs.filter((tr) => tr.querySelector(".badge")).map((tr) => tr.getAttribute("data-column")),
  );
  assert.deepEqual(variant, ["size__v_text"]);
  assert.equal(await web.stop(), 0);
});

testEachDestination(
  "dashboard SQL is read-only: writes, chained statements and read-write switches are refused",
  async (dest: Destination) => {
    await using api = hostileApi();
    const spec = hostileSpec(api.url);
    await runPipeline(spec, { destination: dest });
    const dashboard = await startDashboard({ dest, dataset: spec.dataset, plan: buildPlan(spec) });
    try {
      const token = new URL(dashboard.url).searchParams.get("token")!;
      const sql = async (query: string) => {
        const res = await fetch(`http://127.0.0.1:${dashboard.port}/api/sql?token=${token}`, {
          method: "POST",
          body: JSON.stringify({ sql: query }),
        });
        return { status: res.status, body: await res.json() };
      };
      for (
        const attack of [
          "delete from hostile_data.items",
          "drop table hostile_data.items",
          "create table hostile_data.x (a int)",
          "commit; delete from hostile_data.items",
          "rollback; delete from hostile_data.items",
          "set transaction read write",
          "delete from hostile_data.items",
          "set default_transaction_read_only = off",
          "delete from hostile_data.items",
        ]
      ) await sql(attack);
      const count = await sql("select count(*)::int as n from hostile_data.items");
      assert.deepEqual(count, { status: 200, body: { fields: ["n"], rows: [[2]], more: false } });
      const refused = await sql("delete from hostile_data.items");
      assert.equal(refused.status, 400);
      assert.match(refused.body.error, /read-only/);
      // the CSV of a write is refused too
      const csv = await fetch(
        `http://127.0.0.1:${dashboard.port}/api/sql.csv?token=${token}&sql=${
          encodeURIComponent("delete from hostile_data.items")
        }`,
      );
      assert.equal(csv.status, 400);
      await csv.body?.cancel();
      assert.equal(
        (await dest.query<{ n: number }>("select count(*)::int as n from hostile_data.items"))
          .rows[0].n,
        2,
      );
    } finally {
      await dashboard.close();
    }
  },
);

Deno.test("run --web: progress updates in place while the run goes, then the summary", async () => {
  await using fake = await fakeAsana({ tasksPerProject: 4, latencyMs: 600, faultRate: 0.05 });
  await using tmp = await tempDir();
  await using web = await runWeb(fake, tmp.path);
  await using browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await openDashboard(page, web.url);
  // while it runs: the live table counts up, tables wait for the commit
  await page.locator("[data-testid=live-status]", { hasText: /^running/ }).waitFor();
  // the run holds the database: tables and queries wait for its commit, with a reason
  const base = new URL(web.url);
  const busy = await fetch(`${base.origin}/api/sql${base.search}`, {
    method: "POST",
    body: JSON.stringify({ sql: "select 1" }),
  });
  assert.equal(busy.status, 409);
  assert.match((await busy.json()).error, /run is loading/);
  const requestsSeen = new Set<string>();
  const liveRows = new Set<string>();
  while (!(await page.locator("body[data-run]").count())) {
    requestsSeen.add((await page.textContent("[data-testid=live-status]")) ?? "");
    // one row per resource of the spec, with its rows, pages and requests so far
    const rows = await page.$$eval(
      "[data-testid=live-table] tr[data-live]",
      (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent).join(" ")),
    );
    if (rows.length > 0) liveRows.add(JSON.stringify(rows));
    await new Promise((r) => setTimeout(r, 200));
  }
  const running = [...requestsSeen].filter((s) => s.startsWith("running"));
  assert.ok(running.length >= 2, `progress changed in place: ${running.join(" | ")}`);
  const tables = [...liveRows].map((r) => JSON.parse(r) as string[]);
  assert.ok(tables.length >= 2, "the live table changed in place");
  const resourceCount = buildPlan(await asanaSpec(fake.baseUrl, fake.token)).order.length;
  assert.ok(tables.every((t) => t.length === resourceCount));
  // resource, rows, pages, requests, retries, 429s
  assert.ok(tables.every((t) => t.every((line) => /^\w+( [\d,]+){5}$/.test(line))));
  // the final figures: every retry (the fake failed 5% of requests) counted against a resource
  const live = await (await fetch(new URL(`/api/live${new URL(web.url).search}`, web.url))).json();
  const perResource = (live.progress.resources as { retries: number }[])
    .reduce((a, r) => a + r.retries, 0);
  assert.equal(live.running, false);
  assert.equal(live.progress.retries, fake.stats.faults);
  assert.equal(perResource, fake.stats.faults);
  assert.ok(fake.stats.faults > 0);
  assert.equal(await page.getAttribute("body", "data-run"), "finished");
  // the summary, and the tables the run committed
  const summary = await page.$$eval(
    "[data-testid=live-summary] tr[data-summary]",
    (trs) =>
      Object.fromEntries(
        trs.map((tr) => [tr.getAttribute("data-summary"), tr.children[1].textContent]),
      ),
  );
  await page.waitForSelector('tr[data-table="tasks"]');
  const taskRows = await page.getAttribute('tr[data-table="tasks"] [data-rows]', "data-rows");
  assert.equal(summary.tasks, taskRows);
  assert.equal(Number(taskRows), fake.groundTruth().tasks);
  await page.screenshot({ path: `${OUTPUT_DIR}/run.png`, fullPage: true });
  assert.equal(await web.stop(), 0);
  assert.match(web.output(), /the dashboard stays at/);
  assert.doesNotMatch(web.output(), new RegExp(fake.token));
});

Deno.test("run --web: a failed run shows its error on the page and exits 1", async () => {
  await using fake = await fakeAsana({ tasksPerProject: 2 });
  fake.faults.push({ match: /\/workspaces$/, status: 400 });
  await using tmp = await tempDir();
  await using web = await runWeb(fake, tmp.path);
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  await openDashboard(page, web.url);
  await page.waitForSelector("body[data-run=failed]");
  assert.match(
    (await page.textContent("[data-testid=live-summary]"))!,
    /previous load is intact.*400/s,
  );
  assert.equal(await web.stop(), 1);
  assert.match(web.output(), /run failed; the previous load is intact/);
});

Deno.test("dashboard assets: served by restpipe, under 500 KB, nothing fetched from elsewhere", async () => {
  let total = 0;
  for await (const entry of Deno.readDir(ASSET_DIR)) {
    const text = await Deno.readTextFile(new URL(entry.name, ASSET_DIR));
    total += new TextEncoder().encode(text).length;
    assert.doesNotMatch(
      text,
      /(src|href)=["']?https?:|url\(["']?https?:|import .* from ["']https?:/,
    );
  }
  assert.ok(total < 500_000, `${total} bytes`);
});

testEachDestination(
  "the load history's duration is the run's real duration (finished_at is the commit's time)",
  async (dest: Destination) => {
    await using fake = await fakeAsana({ tasksPerProject: 2, latencyMs: 250 });
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const t0 = Date.now();
    await runPipeline(spec, { destination: dest });
    const wall = Date.now() - t0;
    const [load] = await dest.loads("asana_data", 1);
    const recorded = load.finished_at.getTime() - load.started_at.getTime();
    // the requests alone take several latencies (chains of five levels and more at 250 ms):
    // long enough that a finished_at taken when the transaction opened is far off (the
    // margin covers the commit and the return on a machine busy with the other tests)
    assert.ok(wall > 1_000, `${wall} ms`);
    assert.ok(recorded >= wall - 500 && recorded <= wall + 50, `${recorded} ms of ${wall} ms`);
  },
);

Deno.test({
  name:
    "show --web --destination postgresql://…: the page reads the server, the password is nowhere",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using api = hostileApi();
    await using db = await freshDatabase();
    const dest = await PostgresDestination.open(db.url);
    try {
      await runPipeline(hostileSpec(api.url), { destination: dest });
    } finally {
      await dest.close();
    }
    const password = decodeURIComponent(new URL(db.url).password);
    await using web = await startWebCommand(["show", "--web", "--destination", db.url]);
    await using browser = await launchBrowser();
    const page = await browser.newPage();
    await openDashboard(page, web.url);
    assert.equal(await page.getAttribute('tr[data-table="items"] [data-rows]', "data-rows"), "2");
    assert.equal(await page.locator('g.node[data-resource="items"]').count(), 1);
    assert.match((await page.textContent("#destination"))!, /postgresql:\/\/restpipe:\*\*\*@/);
    await page.fill("[data-testid=sql]", "select current_setting('application_name') as app");
    await page.click("[data-testid=run-sql]");
    await page.waitForSelector("[data-testid=sql-result] table");
    const everything = await page.content() + web.output();
    assert.equal(everything.includes(password), false);
    // another process loads again: the page, reloaded, shows that load
    assert.equal(await page.locator("rect.bar[data-series=rows]").count(), 1);
    const again = await PostgresDestination.open(db.url);
    try {
      await runPipeline(hostileSpec(api.url), { destination: again });
    } finally {
      await again.close();
    }
    await page.reload();
    await page.waitForSelector("body[data-rendered=yes]");
    assert.equal(await page.locator("rect.bar[data-series=rows]").count(), 2);
    // no worker fleet in this server yet: no fleet section
    assert.equal(await page.locator("#fleet-section").isHidden(), true);
    // a fleet's queue in the server: one run completed, one queued
    const fleet = parseFleet(
      "pipelines:\n  acme: { spec: x.yaml }\n  globex: { spec: y.yaml }\n",
      "f.yaml",
    );
    const boss = await openQueue(db.url, fleet);
    try {
      await boss.send(RUNS_QUEUE, { pipeline: "acme", reason: "manual" }, { singletonKey: "acme" });
      const [job] = await boss.fetch(RUNS_QUEUE);
      await boss.complete(RUNS_QUEUE, job.id, { exit_code: 0 });
      await boss.send(RUNS_QUEUE, { pipeline: "globex", reason: "manual" }, {
        singletonKey: "globex",
      });
    } finally {
      await boss.stop({ graceful: false, timeout: 1000 });
    }
    await page.reload();
    await page.waitForSelector("body[data-rendered=yes]");
    assert.equal(await page.locator("#fleet-section").isHidden(), false);
    const done = page.locator("[data-testid=fleet] tr[data-pipeline=acme][data-state=completed]");
    assert.equal(await done.count(), 1);
    assert.equal((await done.locator("td").nth(6).textContent())?.trim(), "0");
    assert.equal(
      await page.locator("[data-testid=fleet] tr[data-pipeline=globex][data-state=created]")
        .count(),
      1,
    );
    assert.equal(await web.stop(), 0);
  },
});

Deno.test("show --web --port N serves on that port; --port alone or not a number is a usage error", async () => {
  await using api = hostileApi();
  await using tmp = await tempDir();
  const dir = `${tmp.path}/db`;
  await runPipeline(hostileSpec(api.url), { dbDir: dir });
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await using web = await startWebCommand(["show", "--web", "--port", String(port), "--db", dir]);
  assert.equal(new URL(web.url).port, String(port));
  const page = await fetch(web.url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>restpipe<\/title>/);
  assert.equal(await web.stop(), 0);
  for (
    const [args, message] of [
      [["--port", "8080"], /--port goes with --web/],
      [["--web", "--port", "http"], /not a port number/],
      [["--web", "tasks"], /leave out the table name/],
    ] as const
  ) {
    const r = await runCli(["show", ...args, "--db", dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  const dry = await runCli(["run", "x.yaml", "--dry-run", "--web"]);
  assert.equal(dry.code, 2);
  assert.match(dry.stderr, /--web goes with a run/);
});

testEachDestination(
  "dashboard SQL reads a huge result page by page: the first 1,000 rows, a streamed CSV of all, a cancelled download frees the database",
  async (dest: Destination) => {
    const dashboard = await startDashboard({ dest });
    try {
      const token = new URL(dashboard.url).searchParams.get("token")!;
      const base = `http://127.0.0.1:${dashboard.port}`;
      const sql = async (query: string) => {
        const res = await fetch(`${base}/api/sql?token=${token}`, {
          method: "POST",
          body: JSON.stringify({ sql: query }),
        });
        return { status: res.status, body: await res.json() };
      };
      const big = await sql("select g, md5(g::text) as h from generate_series(1, 300000) g;");
      assert.equal(big.status, 200);
      assert.equal(big.body.rows.length, 1000);
      assert.equal(big.body.more, true);
      assert.deepEqual(big.body.rows[999], [1000, "a9b7ba70783b617e9998dc4dd82eb3c5"]);
      // statements a cursor does not take still answer; errors say why
      assert.deepEqual((await sql("show client_encoding")).body.rows, [["UTF8"]]);
      assert.equal((await sql("explain select 1")).status, 200);
      assert.match((await sql("select nope")).body.error, /nope/);
      // the CSV streams every row
      const csvUrl = (q: string) =>
        `${base}/api/sql.csv?token=${token}&sql=${encodeURIComponent(q)}`;
      const all = await (await fetch(csvUrl("select g from generate_series(1, 200000) g"))).text();
      const lines = all.split("\r\n");
      assert.equal(lines.length, 200_002); // header, 200,000 rows, the empty string after the last CRLF
      assert.deepEqual([lines[0], lines[1], lines[200_000]], ["g", "1", "200000"]);
      // a download of 50 million rows, abandoned after its first bytes: the query stops
      const endless = await fetch(csvUrl("select g from generate_series(1, 50000000) g"));
      const reader = endless.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /^g\r\n1\r\n/);
      await reader.cancel();
      const after = await sql("select 42 as answer");
      assert.deepEqual(after.body.rows, [[42]]);
      const csvError = await fetch(csvUrl("select nope"));
      assert.equal(csvError.status, 400);
      assert.match(await csvError.text(), /nope/);
    } finally {
      await dashboard.close();
    }
  },
);

Deno.test({
  name: "show --web: a query of three million rows does not grow the dashboard's memory",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using web = await startWebCommand(["show", "--web", "--destination", db.url]);
    const url = new URL(web.url);
    const peak = async () =>
      Number((await Deno.readTextFile(`/proc/${web.pid}/status`)).match(/VmHWM:\s+(\d+)/)![1]);
    const before = await peak();
    const res = await fetch(`${url.origin}/api/sql${url.search}`, {
      method: "POST",
      body: JSON.stringify({
        sql: "select g, repeat('x', 100) as pad from generate_series(1, 3000000) g",
      }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).rows.length, 1000);
    const grown = (await peak()) - before;
    // the whole result would be ~1 GB of rows in JavaScript; a page is a few MB
    assert.ok(grown < 60_000, `peak RSS grew ${grown} kB`);
    assert.equal(await web.stop(), 0);
  },
});
