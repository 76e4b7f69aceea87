/** New PGlite databases from the cached template: each its own, valid, and made safely at once. */
import assert from "node:assert/strict";
import { openMemoryPglite, openPglite } from "../src/load/pglite_template.ts";

const entries = async (dir: string) => {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
};

Deno.test("a new database is a copy of the template, not of another database", async () => {
  const root = await Deno.makeTempDir();
  try {
    const a = await openPglite(`${root}/a`, `${root}/cache`);
    await a.exec("create table t (x int); insert into t values (1)");
    await a.close();
    assert.equal((await entries(`${root}/cache`)).filter((n) => n.startsWith(".")).length, 0);
    const b = await openPglite(`${root}/b`, `${root}/cache`);
    const r = await b.query<{ n: number }>(
      "select count(*)::int as n from pg_tables where tablename = 't'",
    );
    assert.equal(r.rows[0].n, 0);
    await b.exec("create table u (y int)");
    await b.close();
    // the first database kept its data, and reopens as it is
    const again = await openPglite(`${root}/a`, `${root}/cache`);
    assert.deepEqual((await again.query("select x from t")).rows, [{ x: 1 }]);
    await again.close();
    const memory = await openMemoryPglite(`${root}/cache`);
    assert.deepEqual((await memory.query("select 1 as one")).rows, [{ one: 1 }]);
    await memory.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("two databases made at once with no template yet: both work, one template is kept", async () => {
  const root = await Deno.makeTempDir();
  try {
    const [a, b] = await Promise.all([
      openPglite(`${root}/a`, `${root}/cache`),
      openPglite(`${root}/b`, `${root}/cache`),
    ]);
    for (const db of [a, b]) {
      await db.exec("create table t (x int)");
      await db.close();
    }
    const kept = (await entries(`${root}/cache`)).filter((n) => !n.endsWith(".tar"));
    assert.equal(kept.length, 1, `one template, no leftovers: ${kept}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("without a cache a new database is made by initdb, as before", async () => {
  const root = await Deno.makeTempDir();
  try {
    const db = await openPglite(`${root}/a`, undefined);
    assert.deepEqual((await db.query("select 1 as one")).rows, [{ one: 1 }]);
    await db.close();
    assert.deepEqual(await entries(root), ["a"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
