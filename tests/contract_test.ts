/**
 * The contract with schedulers and orchestrators: exit codes that tell success (0), bad
 * usage or config (2), a failure retrying will not fix (1) and a temporary one (75) apart;
 * `--log-format json` (every line of standard error one JSON object); `--summary-json
 * FILE` (the outcome and figures, also of a failed run). Each against a hostile server,
 * and none of them ever carries the token.
 */
import assert from "node:assert/strict";
import { cliCommand, runCli, tempDir, writeSpec } from "./helpers.ts";
import { FAST_RETRY, json, serveHostile } from "./hostile.ts";

const TOKEN = "tok-contract-1234567890";

/** A spec of one paged resource at `url`, with a bearer token and quick retries. */
function spec(url: string): string {
  return `pipeline: c
dataset: c_data
source:
  base_url: ${url}
  auth: { type: bearer, token: "\${C_TOKEN}" }
  records: data
  paginator: { type: next_url, next_url_path: next }
${FAST_RETRY}resources:
  items: { path: /items, primary_key: id }
`;
}

/** A server: two pages of items, or the failure `mode` names. */
function api(mode: () => string) {
  return serveHostile((url, req) => {
    if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) {
      return json({ errors: [{ message: "Not Authorized" }] }, 401);
    }
    const m = mode();
    if (m === "401") return json({ errors: [{ message: "Not Authorized" }] }, 401);
    if (m === "403") return json({ errors: [{ message: "Forbidden" }] }, 403);
    if (m === "404") return json({ errors: [{ message: "Unknown object" }] }, 404);
    if (m === "503") return json({ errors: [{ message: "down for maintenance" }] }, 503);
    if (m === "429") {
      return json({ errors: [{ message: "slow down" }] }, 429, { "retry-after": "0" });
    }
    const page = Number(url.searchParams.get("page") ?? 1);
    return json({
      data: [{ id: `${page}a`, at: `2024-0${page}-01` }, {
        id: `${page}b`,
        at: `2024-0${page}-02`,
      }],
      next: page < 2 ? `${url.origin}/items?page=${page + 1}` : null,
    });
  });
}

Deno.test("exit codes: 0 loaded, 2 bad usage or spec, 1 for 401/403/404, 75 for 5xx, 429 storms and a refused connection", async () => {
  await using dir = await tempDir();
  let mode = "ok";
  await using server = api(() => mode);
  const file = await writeSpec(dir.path, spec(server.url));
  const env = { C_TOKEN: TOKEN };
  const run = (...extra: string[]) =>
    runCli(["run", file, "--db", `${dir.path}/db`, "--quiet", ...extra], env, dir.path);
  const table: [string, number][] = [];
  for (const m of ["ok", "401", "403", "404", "503", "429"]) {
    mode = m;
    const r = await run();
    table.push([m, r.code]);
    assert.equal(r.stderr.includes(TOKEN), false);
  }
  assert.deepEqual(table, [["ok", 0], ["401", 1], ["403", 1], ["404", 1], ["503", 75], [
    "429",
    75,
  ]]);
  // nothing listens there
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const refused = await writeSpec(dir.path, spec(`http://127.0.0.1:${port}`), "refused.yaml");
  const r = await runCli(["run", refused, "--db", `${dir.path}/db2`, "--quiet"], env, dir.path);
  assert.equal(r.code, 75, r.stderr);
  // bad usage and a bad spec
  assert.equal((await run("--log-format", "xml")).code, 2);
  assert.equal((await run("--bogus")).code, 2);
  const bad = await writeSpec(dir.path, "pipeline: c\nresources: 3\n", "bad.yaml");
  assert.equal((await runCli(["run", bad, "--quiet"], env, dir.path)).code, 2);
});

Deno.test("--summary-json: the outcome and the figures of a run, loaded or failed, with no secret", async () => {
  await using dir = await tempDir();
  let mode = "ok";
  await using server = api(() => mode);
  const file = await writeSpec(
    dir.path,
    spec(server.url).replace(
      "items: { path: /items, primary_key: id }",
      'items: { path: /items, primary_key: id, incremental: { cursor: at, initial: "2000-01-01" } }',
    ),
  );
  const summary = `${dir.path}/summary.json`;
  const run = () =>
    runCli(["run", file, "--db", `${dir.path}/db`, "--quiet", "--summary-json", summary], {
      C_TOKEN: TOKEN,
    }, dir.path);
  const ok = await run();
  assert.equal(ok.code, 0, ok.stderr);
  const text = await Deno.readTextFile(summary);
  assert.equal(text.includes(TOKEN), false);
  const loaded = JSON.parse(text);
  assert.equal(loaded.status, "loaded");
  assert.equal(loaded.exit_code, 0);
  assert.equal(loaded.transient, false);
  assert.equal(loaded.pipeline, "c");
  assert.match(loaded.load_id, /^\d+\.\d{6}$/);
  assert.deepEqual(loaded.tables.items, { rows: 4, deleted: 0 });
  // the one partition of the incremental resource moved its cursor
  assert.deepEqual(loaded.cursors_moved, { items: 1 });
  assert.equal(loaded.requests, 2);
  assert.deepEqual(
    loaded.resources.map((r: { resource: string; rows: number; requests: number }) => [
      r.resource,
      r.rows,
      r.requests,
    ]),
    [["items", 4, 2]],
  );
  // the API answers 503 now: a temporary failure, with the API's message and no commit
  mode = "503";
  const failed = await run();
  assert.equal(failed.code, 75);
  const after = JSON.parse(await Deno.readTextFile(summary));
  assert.equal(after.status, "failed");
  assert.equal(after.exit_code, 75);
  assert.equal(after.transient, true);
  assert.equal(after.load_id, null);
  assert.deepEqual(after.tables, {});
  assert.match(after.error, /HTTP 503: down for maintenance/);
  assert.equal(after.requests, 2, "both attempts are counted");
  // the token itself refused: terminal
  const denied = await runCli(
    [
      "run",
      file,
      "--db",
      `${dir.path}/db`,
      "--quiet",
      "--summary-json",
      summary,
    ],
    { C_TOKEN: "wrong-token-0987654321" },
    dir.path,
  );
  assert.equal(denied.code, 1);
  const refusedText = await Deno.readTextFile(summary);
  assert.equal(refusedText.includes("wrong-token-0987654321"), false);
  const refused = JSON.parse(refusedText);
  assert.equal(refused.exit_code, 1);
  assert.equal(refused.transient, false);
  assert.match(refused.error, /HTTP 401: Not Authorized/);
});

Deno.test("--log-format json: every line of standard error is one JSON object with level, time and event", async () => {
  await using dir = await tempDir();
  let mode = "ok";
  await using server = api(() => mode);
  const file = await writeSpec(dir.path, spec(server.url));
  const run = () =>
    runCli(["run", file, "--db", `${dir.path}/db`, "--log-format", "json"], {
      C_TOKEN: TOKEN,
    }, dir.path);
  const lines = (stderr: string) =>
    stderr.split("\n").filter((l) => l !== "").map((l) => {
      const o = JSON.parse(l);
      assert.ok(["info", "warn", "error"].includes(o.level), l);
      assert.ok(!Number.isNaN(Date.parse(o.time)), l);
      assert.equal(typeof o.event, "string", l);
      return o;
    });
  const ok = await run();
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr.includes(TOKEN), false);
  const events = lines(ok.stderr);
  const finished = events.find((e) => e.event === "run_finished");
  assert.ok(finished, ok.stderr);
  assert.equal(finished.rows, 4);
  assert.equal(finished.requests, 2);
  assert.equal(finished.exit_code, 0);
  const items = events.filter((e) => e.event === "resource" && e.resource === "items");
  assert.ok(items.length > 0, ok.stderr);
  assert.equal(items.at(-1).rows, 4);
  // a failure is a line of its own, level error, with the exit code
  mode = "503";
  const failed = await run();
  assert.equal(failed.code, 75);
  assert.equal(failed.stderr.includes(TOKEN), false);
  const last = lines(failed.stderr).at(-1);
  assert.equal(last.event, "run_failed");
  assert.equal(last.level, "error");
  assert.equal(last.exit_code, 75);
  assert.equal(last.transient, true);
  assert.match(last.message, /HTTP 503: down for maintenance/);
  // a bad spec too: exit 2, one JSON line
  const bad = await writeSpec(dir.path, "pipeline: c\nresources: 3\n", "bad.yaml");
  const b = await runCli(["run", bad, "--log-format", "json"], {}, dir.path);
  assert.equal(b.code, 2);
  const badLines = lines(b.stderr);
  assert.equal(badLines.length, 1, b.stderr);
  assert.equal(badLines[0].event, "run_failed");
  assert.equal(badLines[0].exit_code, 2);
});

Deno.test("a run a worker started stops when its standard input closes (the worker stopped, or died): exit 143, nothing committed", async () => {
  await using dir = await tempDir();
  // a slow server: one page a second, many pages
  await using slow = serveHostile(async (url) => {
    await new Promise((r) => setTimeout(r, 1000));
    const page = Number(url.searchParams.get("page") ?? 1);
    return json({ data: [{ id: `${page}` }], next: `${url.origin}/items?page=${page + 1}` });
  });
  const file = await writeSpec(dir.path, spec(slow.url));
  const child = cliCommand([
    "run",
    file,
    "--db",
    `${dir.path}/db`,
    "--quiet",
  ], {
    env: { C_TOKEN: TOKEN, RESTPIPE_STOP_WITH_STDIN: "1", NO_COLOR: "1" },
    clearEnv: true,
    cwd: dir.path,
    stdin: "piped",
    // nothing read from it: the run cannot learn of its worker's end by a broken pipe
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 100 && slow.requests.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(slow.requests.length >= 2, "the run had started");
  const t0 = performance.now();
  await child.stdin.close();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const status = await Promise.race([
    child.status,
    new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), 10_000)),
  ]);
  clearTimeout(timer);
  if (status === undefined) {
    child.kill("SIGKILL");
    await child.status;
  }
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(status?.code, 143, "the run went on after its standard input closed");
  assert.ok(seconds < 5, `it took ${seconds} s to stop`);
  const n = slow.requests.length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(slow.requests.length, n, "no request after it stopped");
});
