/**
 * Resumable runs: a run killed (SIGKILL) or stopped (SIGTERM) leaves the answers it
 * received in a checkpoint beside the database; the next run takes the same requests'
 * answers from it, asks the API only for the rest, publishes one whole load and ends
 * exactly as a fresh full load; readers never see part of a load. Both destinations.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { sizedFor, startFakeAsana } from "../testing/fake_asana/mod.ts";
import {
  cliCommand,
  differing,
  freshLoad,
  ROOT,
  runCli,
  tableContents,
  tempDir,
} from "./helpers.ts";
import { freshDatabase, NO_POSTGRES } from "./pg.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { PostgresDestination } from "../src/load/postgres.ts";
import type { Destination } from "../src/load/destination.ts";

/** The shipped spec at 12,000 requests a minute: a run lasts long enough to be killed. */
async function slowSpec(dir: string): Promise<string> {
  const text = (await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`))
    .replace(/^(\s+)requests_per_minute: \d+$/m, "$1requests_per_minute: 12000");
  await Deno.writeTextFile(`${dir}/asana.yaml`, text);
  return `${dir}/asana.yaml`;
}

/** Where a test run loads: the CLI's options, and how to read what it holds. */
interface Target {
  args: string[];
  open(): Promise<Destination>;
  /** Answers the checkpoint holds now. */
  kept(): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

function pgliteTarget(dir: string, name: string): Target {
  const db = `${dir}/${name}`;
  return {
    args: ["--db", db],
    open: () => PgliteDestination.open(db),
    async kept() {
      try {
        const text = await Deno.readTextFile(`${db}/restpipe-checkpoint/asana_data/answers.ndjson`);
        return text.split("\n").filter((l) => l.endsWith("}")).length;
      } catch {
        return 0;
      }
    },
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

async function postgresTarget(): Promise<Target> {
  const db = await freshDatabase();
  return {
    args: ["--destination", db.url],
    open: () => PostgresDestination.open(db.url),
    async kept() {
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        const r = await sql`select count(*)::int as n from restpipe_checkpoint.answers`;
        return r[0].n;
      } catch {
        return 0;
      } finally {
        await sql.end();
      }
    },
    [Symbol.asyncDispose]: () => db[Symbol.asyncDispose](),
  };
}

/** Starts `restpipe run` as its own process. */
function spawnRun(spec: string, target: Target, env: Record<string, string>, cwd: string) {
  return cliCommand([
    "run",
    spec,
    ...target.args,
    "--quiet",
  ], {
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

for (const kind of ["pglite", "postgres"] as const) {
  Deno.test({
    name:
      `a run killed (SIGKILL) at 30% and at 80% of its requests resumes from its checkpoint and ends exact [${kind}]`,
    ignore: kind === "postgres" && NO_POSTGRES,
    fn: async () => {
      await using dir = await tempDir();
      const fake = await startFakeAsana({ ...sizedFor(1200), seed: 51, latencyMs: 10 });
      try {
        const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
        const spec = await slowSpec(dir.path);
        const before = fake.stats.requests;
        const expected = await freshLoad(fake.baseUrl, fake.token);
        const full = fake.stats.requests - before;
        for (const share of [0.3, 0.8]) {
          await using target = kind === "pglite"
            ? pgliteTarget(dir.path, `db_${share}`)
            : await postgresTarget();
          const start = fake.stats.requests;
          const child = spawnRun(spec, target, env, dir.path);
          while (fake.stats.requests - start < share * full) {
            await new Promise((r) => setTimeout(r, 20));
          }
          child.kill("SIGKILL");
          await child.status;
          await child.stderr.cancel();
          const killedAt = fake.stats.requests - start;
          assert.ok(killedAt < full, `the run ended before it was killed (${killedAt} of ${full})`);
          const kept = await target.kept();
          assert.ok(kept > 0, "nothing was kept");
          // nothing of the killed run is visible
          const empty = await target.open();
          try {
            assert.deepEqual(await empty.loads("asana_data"), []);
          } finally {
            await empty.close();
          }
          const resumedFrom = fake.stats.requests;
          const r = await runCli(["run", spec, ...target.args], env, dir.path);
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stderr, /^resumed: \d+ answers of the run that stopped/m);
          const resumed = fake.stats.requests - resumedFrom;
          console.log(
            `[${kind}] killed at ${killedAt} of ${full} requests (${
              Math.round(100 * killedAt / full)
            }%), ${kept} answers kept; the next run made ${resumed} (${
              Math.round(100 * resumed / full)
            }% of a full run)`,
          );
          const dest = await target.open();
          try {
            const got = await tableContents(dest);
            assert.deepEqual(differing(got, expected), [], `${share}: tables differ`);
          } finally {
            await dest.close();
          }
          // a checkpoint serves once: a committed load drops it
          assert.equal(await target.kept(), 0);
          // the resumed run asked the API only for what the killed run had not received
          assert.ok(resumed <= full - kept + 60, `${resumed} requests after ${kept} kept`);
          if (share === 0.8) assert.ok(resumed <= 0.3 * full, `${resumed} of ${full}`);
        }
      } finally {
        await fake.close();
      }
    },
  });
}

Deno.test("SIGTERM keeps the checkpoint; a checkpoint of another spec is discarded with a line; --no-resume discards it", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ ...sizedFor(1200), seed: 52, latencyMs: 10 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const spec = await slowSpec(dir.path);
    await using target = pgliteTarget(dir.path, "db");
    const start = fake.stats.requests;
    const child = spawnRun(spec, target, env, dir.path);
    while (fake.stats.requests - start < 500) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGTERM");
    const status = await child.status;
    const stderr = new TextDecoder().decode(
      new Uint8Array(await new Response(child.stderr).arrayBuffer()),
    );
    assert.equal(status.code, 143, stderr);
    const kept = await target.kept();
    assert.ok(kept >= 400, `only ${kept} answers kept after SIGTERM`);
    // the spec changes: its checkpoint is not this run's
    await Deno.writeTextFile(
      spec,
      (await Deno.readTextFile(spec)).replace(
        "requests_per_minute: 12000",
        "requests_per_minute: 11000",
      ),
    );
    const other = await runCli(
      ["run", spec, ...target.args, "--resources", "workspaces"],
      env,
      dir.path,
    );
    assert.equal(other.code, 0, other.stderr);
    assert.match(
      other.stderr,
      /^checkpoint of \S+ \(\d+ answers\) discarded: it was made by another spec, options or load$/m,
    );
    // that run committed: the next one has no checkpoint to resume
    assert.equal(await target.kept(), 0);
    // stopped again, then --no-resume: the checkpoint is dropped, every request asked again
    const again = spawnRun(spec, target, env, dir.path);
    const at = fake.stats.requests;
    while (fake.stats.requests - at < 500) await new Promise((r) => setTimeout(r, 20));
    again.kill("SIGTERM");
    await again.status;
    await again.stderr.cancel();
    assert.ok(await target.kept() > 0);
    const fresh = await runCli(["run", spec, ...target.args, "--no-resume"], env, dir.path);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stderr, /^checkpoint of \S+ \(\d+ answers\) discarded: --no-resume$/m);
    assert.doesNotMatch(fresh.stdout, /answers came from the checkpoint/);
  } finally {
    await fake.close();
  }
});
