/**
 * What a resumed run costs: a first load of the fake organisation (the shipped spec, its
 * rate limit raised), killed with SIGKILL when it has made a share of a full load's
 * requests, then run again; the second run's requests as a share of a full load, and
 * whether its tables equal a fresh full load's.
 *
 *   deno run -A scripts/bench_resume.ts [--tasks 10000] [--kill 0.8] [--latency 10]
 *     [--destination postgresql://…]   (default: PGlite in a temporary folder)
 *
 * @module
 */
import { parseArgs, stringFlag } from "../src/cli/args.ts";
import { cliCommand } from "../tests/helpers.ts";
import { sizedFor, startFakeAsana } from "../testing/fake_asana/mod.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { PostgresDestination } from "../src/load/postgres.ts";
import { runPipeline } from "../src/pipeline.ts";
import { loadSpec } from "../src/spec/load.ts";
import { describeDataset } from "../src/show.ts";
import type { Destination } from "../src/load/destination.ts";

const args = parseArgs(Deno.args, {
  tasks: "value",
  kill: "value",
  latency: "value",
  destination: "value",
});
const flag = (name: string, fallback: string) => stringFlag(args, name) ?? fallback;
const TASKS = Number(flag("tasks", "10000"));
const KILL = Number(flag("kill", "0.8"));
const LATENCY = Number(flag("latency", "10"));
const URL_ = args.flags.get("destination");
const ROOT = new URL("..", import.meta.url).pathname;

const fake = await startFakeAsana({ ...sizedFor(TASKS), seed: 77, latencyMs: LATENCY });
const dir = await Deno.makeTempDir({ prefix: "restpipe-resume-bench-" });
const spec = `${dir}/asana.yaml`;
await Deno.writeTextFile(
  spec,
  (await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`))
    .replace(/^(\s+)requests_per_minute: \d+$/m, "$1requests_per_minute: 60000"),
);
Deno.env.set("ASANA_BASE_URL", fake.baseUrl);
Deno.env.set("ASANA_ACCESS_TOKEN", fake.token);

/** Row counts of every table of the dataset. */
async function counts(dest: Destination): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of (await describeDataset(dest, "asana_data")).tables) out[t.name] = t.rows;
  return out;
}

// a full load, for the reference
const reference = await PgliteDestination.open();
let before = fake.stats.requests;
let t0 = performance.now();
await runPipeline((await loadSpec(spec)).spec, { destination: reference });
const full = fake.stats.requests - before;
const fullSeconds = (performance.now() - t0) / 1000;
const expected = await counts(reference);
await reference.close();

const target = typeof URL_ === "string" ? ["--destination", URL_] : ["--db", `${dir}/db`];
if (typeof URL_ === "string") {
  const d = await PostgresDestination.open(URL_);
  await d.query(`drop schema if exists asana_data cascade`, [], { write: true });
  await d.query(`drop schema if exists restpipe_checkpoint cascade`, [], { write: true });
  await d.close();
}
const cli = (extra: string[] = []) =>
  cliCommand([
    "run",
    spec,
    ...target,
    "--quiet",
    ...extra,
  ], {
    stdout: "null",
    stderr: "piped",
  });
before = fake.stats.requests;
const child = cli().spawn();
while (fake.stats.requests - before < KILL * full) await new Promise((r) => setTimeout(r, 10));
child.kill("SIGKILL");
await child.status;
await child.stderr.cancel();
const killedAt = fake.stats.requests - before;
before = fake.stats.requests;
t0 = performance.now();
const resumed = await cli().output();
const resumedSeconds = (performance.now() - t0) / 1000;
if (!resumed.success) throw new Error(new TextDecoder().decode(resumed.stderr));
const again = fake.stats.requests - before;
const dest = typeof URL_ === "string"
  ? await PostgresDestination.open(URL_)
  : await PgliteDestination.open(`${dir}/db`);
const got = await counts(dest);
await dest.close();
const exact = JSON.stringify(got) === JSON.stringify(expected);
console.log(
  `${
    typeof URL_ === "string" ? "postgres" : "pglite"
  }: ${TASKS} tasks, a full load ${full} requests in ${
    fullSeconds.toFixed(0)
  } s; killed at ${killedAt} (${
    (100 * killedAt / full).toFixed(0)
  }%); the resumed run made ${again} (${(100 * again / full).toFixed(1)}% of a full load) in ${
    resumedSeconds.toFixed(0)
  } s; row counts equal a full load's: ${exact}`,
);
await fake.close();
await Deno.remove(dir, { recursive: true });
