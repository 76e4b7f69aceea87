/**
 * Makes `tests/fixtures/upgrade_<commit>.json`: the dataset an older restpipe wrote, for
 * the test that a run of today's brings it up to date (tests/upgrade_test.ts).
 *
 * The older restpipe's code comes from this repository's history (`git archive`); it
 * loads the fake Asana of today (seed and size below, the ones the test uses) with the
 * spec it shipped, into PGlite (the same PGlite version). Every table of the dataset
 * (system tables included) is then written out as JSON: its columns with their types,
 * and its rows. Run it again when the fake's generated data changes:
 *
 *   deno run -A scripts/make_upgrade_fixture.ts [commit]
 *
 * @module
 */
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { UPGRADE_FAKE } from "../tests/upgrade_fixture.ts";

const commit = Deno.args[0] ?? "1799251";
const root = new URL("..", import.meta.url).pathname;
const old = await Deno.makeTempDir({ prefix: "restpipe-old-" });
try {
  const archive = new Deno.Command("bash", {
    args: ["-c", `git -C "${root}" archive ${commit} | tar -x -C "${old}"`],
  });
  const unpacked = await archive.output();
  if (!unpacked.success) throw new Error(new TextDecoder().decode(unpacked.stderr));
  const fake = await startFakeAsana(UPGRADE_FAKE);
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        `${old}/deno.json`,
        `${old}/src/cli/main.ts`,
        "run",
        `${old}/pipelines/asana.yaml`,
        "--db",
        `${old}/db`,
        "--quiet",
      ],
      cwd: old,
      env: { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token },
    }).output();
    const say = (b: Uint8Array) => new TextDecoder().decode(b);
    if (!run.success) throw new Error(`${say(run.stdout)}\n${say(run.stderr)}`);
    console.error(say(run.stdout).trim());
  } finally {
    await fake.close();
  }
  const dest = await PgliteDestination.open(`${old}/db`);
  const tables = await dest.query<{ name: string }>(
    `select table_name as name from information_schema.tables
     where table_schema = 'asana_data' and table_type = 'BASE TABLE' order by 1`,
  );
  const out: Record<string, { columns: [string, string][]; rows: unknown[] }> = {};
  for (const { name } of tables.rows) {
    const columns = await dest.query<{ c: string; t: string }>(
      `select column_name as c, data_type as t from information_schema.columns
       where table_schema = 'asana_data' and table_name = $1 order by ordinal_position`,
      [name],
    );
    const rows = await dest.query<{ r: unknown }>(
      `select to_jsonb(x) as r from asana_data."${name}" x order by 1`,
    );
    out[name] = { columns: columns.rows.map((c) => [c.c, c.t]), rows: rows.rows.map((r) => r.r) };
  }
  await dest.close();
  const file = `${root}tests/fixtures/upgrade_${commit}.json`;
  await Deno.mkdir(`${root}tests/fixtures`, { recursive: true });
  await Deno.writeTextFile(file, JSON.stringify({ commit, tables: out }) + "\n");
  console.error(`wrote ${file}: ${Object.keys(out).length} tables`);
} finally {
  await Deno.remove(old, { recursive: true });
}
