/**
 * Secrets stay secret, one command holds a database at a time, an interrupted run
 * commits nothing, and the tools are safe by default (issue 9, points 3, 9, 10, 12,
 * 13 and 14). The CLI runs as a subprocess, as a user runs it.
 */
import assert from "node:assert/strict";
import { json, serveHostile } from "./hostile.ts";
import { cliCommand, runCli, tempDir, writeSpec } from "./helpers.ts";
import { encodingsOf } from "../src/core/secrets.ts";

/** A secret with characters that every encoding writes differently. */
const SECRET = "s3cr3t v@lue/+&=ü";

function itemsSpec(url: string, extra = ""): string {
  return `pipeline: s
dataset: s_data
source:
  base_url: ${url}
  records: data
  params: { key: "\${API_SECRET}" }
  headers: { X-Secret: "\${HEADER_SECRET}" }
  retry: { attempts: 2, backoff_seconds: 0.01 }
${extra}defaults: { primary_key: id, write_disposition: replace }
resources:
  items: { path: /items }
`;
}

/** Every file below `dir`, as bytes decoded loosely. */
async function allText(dir: string): Promise<string> {
  let out = "";
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out += await allText(path);
    else if (e.isFile) out += new TextDecoder("latin1").decode(await Deno.readFile(path));
  }
  return out;
}

function assertNoSecret(text: string, where: string): void {
  for (const form of encodingsOf(SECRET)) {
    assert.equal(text.includes(form), false, `${where} holds the secret as ${form}`);
  }
  // the UTF-8 bytes of the secret, read as latin1 (how allText decodes files)
  const bytes = new TextDecoder("latin1").decode(new TextEncoder().encode(SECRET));
  assert.equal(text.includes(bytes), false, `${where} holds the secret's bytes`);
}

Deno.test("${VAR}s in params and headers never reach output, errors, the load history or any table", async () => {
  await using dir = await tempDir();
  let fail = false;
  await using api = serveHostile((url, req) => {
    assert.equal(url.searchParams.get("key"), SECRET);
    assert.equal(req.headers.get("x-secret"), SECRET);
    // a hostile API echoes what it was sent, in its records and in its errors
    if (fail) return json({ errors: [{ message: `bad key ${url.search} ${SECRET}` }] }, 400);
    return json({ data: [{ id: 1, name: "ok" }] });
  });
  const spec = await writeSpec(dir.path, itemsSpec(api.url));
  const env = { API_SECRET: SECRET, HEADER_SECRET: SECRET };
  const db = `${dir.path}/db`;
  const outputs: string[] = [];
  const cli = async (args: string[]) => {
    const r = await runCli(args, env);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  assert.equal((await cli(["check", spec])).code, 0);
  assert.equal((await cli(["plan", spec, "--db", db])).code, 0);
  assert.equal((await cli(["run", spec, "--db", db, "--verbose"])).code, 0);
  fail = true;
  const failed = await cli(["run", spec, "--db", db, "--verbose"]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /HTTP 400: bad key/);
  assert.match(failed.stderr, /key=\*\*\*/);
  const loads = await cli([
    "sql",
    "select status, error from s_data._dlt_loads",
    "--db",
    db,
    "--json",
  ]);
  assert.match(loads.stdout, /failed/);
  assert.match(loads.stdout, /bad key/);
  await cli(["show", "--db", db, "--loads"]);
  for (const [i, text] of outputs.entries()) assertNoSecret(text, `output ${i}`);
  assertNoSecret(await allText(db), "the database directory");
});

Deno.test("a malformed .dlt/secrets.toml exits 2 with file, line and column, without quoting it", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/.dlt`);
  await Deno.writeTextFile(
    `${dir.path}/.dlt/secrets.toml`,
    `[sources.s]\napi_secret = "${SECRET}\nheader_secret = 1\n`,
  );
  const spec = await writeSpec(dir.path, itemsSpec("http://127.0.0.1:9"));
  const r = await runCli(["check", spec], {}, dir.path);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /\.dlt\/secrets\.toml:2:\d+/);
  assert.match(r.stderr, /invalid TOML/);
  assertNoSecret(r.stderr + r.stdout, "check output");
  assert.equal(r.stderr.includes("api_secret"), false);
});

Deno.test("sql is read-only unless --write; serve refuses a non-loopback host", async () => {
  await using dir = await tempDir();
  await using api = serveHostile(() => json({ data: [{ id: 1 }, { id: 2 }] }));
  const spec = await writeSpec(dir.path, itemsSpec(api.url));
  const env = { API_SECRET: "x", HEADER_SECRET: "y" };
  const db = `${dir.path}/db`;
  assert.equal((await runCli(["run", spec, "--db", db, "--quiet"], env)).code, 0);
  const del = await runCli(["sql", "delete from s_data.items", "--db", db]);
  assert.equal(del.code, 2);
  assert.match(del.stderr, /read-only unless --write/);
  const count = await runCli(["sql", "select count(*)::int as n from s_data.items", "--db", db]);
  assert.match(count.stdout, /\b2\b/);
  const write = await runCli([
    "sql",
    "delete from s_data.items where id = 1",
    "--db",
    db,
    "--write",
  ]);
  assert.equal(write.code, 0, write.stderr);
  const after = await runCli(["sql", "select count(*)::int as n from s_data.items", "--db", db]);
  assert.match(after.stdout, /\b1\b/);
  const serve = await runCli(["serve", "--db", db, "--host", "0.0.0.0"]);
  assert.equal(serve.code, 2);
  assert.match(serve.stderr, /refusing --host 0\.0\.0\.0/);
});

Deno.test("--db refuses a file, a foreign non-empty directory and a read-only directory; check refuses reserved names", async () => {
  await using dir = await tempDir();
  const spec = await writeSpec(dir.path, itemsSpec("http://127.0.0.1:9"));
  const env = { API_SECRET: "x", HEADER_SECRET: "y" };
  await Deno.writeTextFile(`${dir.path}/file`, "x");
  await Deno.mkdir(`${dir.path}/photos`);
  await Deno.writeTextFile(`${dir.path}/photos/cat.jpg`, "x");
  await Deno.mkdir(`${dir.path}/ro`);
  await Deno.chmod(`${dir.path}/ro`, 0o555);
  for (
    const [db, why] of [
      ["file", /is a file/],
      ["photos", /holds other files \(cat\.jpg\) and is not a restpipe database/],
      ["ro", /read-only/],
    ] as const
  ) {
    const r = await runCli(["run", spec, "--db", `${dir.path}/${db}`], env);
    assert.equal(r.code, 2, `${db}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  assert.deepEqual([...Deno.readDirSync(`${dir.path}/photos`)].map((e) => e.name), ["cat.jpg"]);
  const reserved = await writeSpec(
    dir.path,
    itemsSpec("http://127.0.0.1:9").replace("dataset: s_data", "dataset: pg_catalog") +
      "  _dlt_loads: { path: /x }\n  constructor: { path: /y }\n  things: { path: /z, table: _dlt_version }\n",
    "reserved.yaml",
  );
  const r = await runCli(["check", reserved], env);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /dataset: "pg_catalog" is a schema Postgres reserves/);
  assert.match(r.stderr, /resources\._dlt_loads: "_dlt_loads" clashes with the system tables/);
  assert.match(
    r.stderr,
    /resources\.constructor: "constructor" is a name JavaScript objects reserve/,
  );
  assert.match(r.stderr, /resources\.things\.table: "_dlt_version" clashes/);
});

/** A slow API: each answer waits `ms`; `/items` pages go on for `pages` pages. */
function slowApi(ms: number, pages: number) {
  let served = 0;
  return serveHostile(async (url) => {
    await new Promise((r) => setTimeout(r, ms));
    served++;
    const page = Number(url.searchParams.get("page") ?? 1);
    return json({
      data: [{ id: `${page}a`, served }, { id: `${page}b`, served }],
      next: page < pages ? `${url.origin}/items?page=${page + 1}` : null,
    });
  });
}

function pagedSpec(url: string): string {
  return itemsSpec(url).replace(
    "  items: { path: /items }",
    "  items: { path: /items, paginator: { type: next_url, next_url_path: next } }",
  );
}

/** Waits until a run holds the database (its lock file names it). */
async function waitForHolder(db: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const text = await Deno.readTextFile(`${db}/restpipe.lock`);
      if (text.includes('"purpose":"run')) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the run never took the database");
}

function spawnCli(args: string[], env: Record<string, string>): Deno.ChildProcess {
  return cliCommand([...args], {
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("one command per database: a second run, show and sql during a run are refused naming the holder", async () => {
  await using dir = await tempDir();
  await using api = slowApi(150, 12);
  const spec = await writeSpec(dir.path, pagedSpec(api.url));
  const env = { API_SECRET: "x", HEADER_SECRET: "y" };
  const db = `${dir.path}/db`;
  const first = spawnCli(["run", spec, "--db", db, "--quiet"], env);
  await waitForHolder(db);
  const second = await runCli(["run", spec, "--db", db, "--quiet"], env);
  // held by another run: temporary, retry when it ends
  assert.equal(second.code, 75, second.stderr);
  assert.match(second.stderr, /is in use by restpipe run .*spec\.yaml \(pid \d+, since /);
  const show = await runCli(["show", "--db", db]);
  assert.equal(show.code, 75);
  assert.match(show.stderr, /in use by restpipe run/);
  const out = await first.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const check = await runCli([
    "sql",
    "select count(*)::int as n, count(distinct id)::int as d from s_data.items",
    "--db",
    db,
    "--json",
  ]);
  assert.deepEqual(JSON.parse(check.stdout), [{ n: 24, d: 24 }]);
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`${signal} during a run: "interrupted: nothing committed", exit ${code}, the next run is exact`, async () => {
    await using dir = await tempDir();
    await using api = slowApi(100, 30);
    const spec = await writeSpec(dir.path, pagedSpec(api.url));
    const env = { API_SECRET: "x", HEADER_SECRET: "y" };
    const db = `${dir.path}/db`;
    const fast = await writeSpec(dir.path, itemsSpec(api.url), "one.yaml");
    assert.equal((await runCli(["run", fast, "--db", db, "--quiet"], env)).code, 0);
    const rows = () =>
      runCli(["sql", "select id, served from s_data.items order by id", "--db", db, "--json"]);
    const before = (await rows()).stdout;
    const run = spawnCli(["run", spec, "--db", db, "--quiet"], env);
    await waitForHolder(db);
    await new Promise((r) => setTimeout(r, 800));
    run.kill(signal);
    const out = await run.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, code, stderr);
    assert.match(stderr, /interrupted: nothing committed/);
    assert.equal((await rows()).stdout, before);
    const again = await runCli(["run", spec, "--db", db, "--quiet"], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse((await rows()).stdout).length, 60);
  });
}
