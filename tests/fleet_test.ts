/**
 * The worker fleet (`restpipe worker`, `restpipe schedule`) on pg-boss in a real
 * PostgreSQL server: several fake Asana organisations, each with its own token, loaded
 * by several workers into their own datasets; at most one run per token at a time; a
 * worker killed mid-run leaves no orphan run, and another worker finishes its job; a
 * failure retrying will not fix goes to the dead letter queue at once, a temporary one
 * is retried.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { type FakeAsana, startFakeAsana } from "../testing/fake_asana/mod.ts";
import {
  asanaSpec,
  cliCommand,
  fastAsanaFile,
  freshLoad,
  runCli,
  tempDir,
  truthFor,
} from "./helpers.ts";
import { freshDatabase, NO_POSTGRES } from "./pg.ts";

/** A worker process; `log()` is what it printed so far. */
function startWorker(url: string, fleet: string, ...extra: string[]) {
  const child = cliCommand([
    "worker",
    fleet,
    "--poll-seconds",
    "0.5",
    ...extra,
  ], {
    env: {
      NO_COLOR: "1",
      DESTINATION__POSTGRES__CREDENTIALS: url,
      PATH: Deno.env.get("PATH") ?? "",
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  const errors = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  return {
    child,
    log: () => text,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* ended */ }
      await child.status;
      await pump.catch(() => {});
      await errors.catch(() => {});
    },
  };
}

/** `restpipe schedule` with the destination in the environment. */
function schedule(url: string, fleet: string, ...args: string[]) {
  return runCli(["schedule", fleet, ...args], { DESTINATION__POSTGRES__CREDENTIALS: url });
}

/**
 * Waits until `check` holds (polling every 250 ms), or fails after `seconds`, saying
 * what `explain` finds then.
 */
async function until(
  what: string,
  seconds: number,
  check: () => Promise<boolean>,
  explain?: () => Promise<string>,
) {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`waited ${seconds} s for ${what}${explain ? `\n${await explain()}` : ""}`);
}

/** Writes an organisation's env file, and the fleet file with its pipelines. */
async function writeFleet(
  dir: string,
  orgs: { name: string; fake: FakeAsana; token?: string; dataset?: string; envFile?: string }[],
  extra = "",
): Promise<string> {
  const spec = await fastAsanaFile(dir);
  const lines = ["pipelines:"];
  for (const o of orgs) {
    const env = o.envFile ?? `${o.name}.env`;
    await Deno.writeTextFile(
      `${dir}/${env}`,
      `ASANA_ACCESS_TOKEN=${o.token ?? o.fake.token}\nASANA_BASE_URL=${o.fake.baseUrl}\n`,
    );
    lines.push(
      `  ${o.name}:`,
      `    spec: ${spec}`,
      `    dataset: ${o.dataset ?? o.name}`,
      `    env_file: ${env}`,
    );
  }
  lines.push(
    "retry: { limit: 2, delay_seconds: 1, max_delay_seconds: 2 }",
    "heartbeat_seconds: 10",
  );
  await Deno.writeTextFile(`${dir}/fleet.yaml`, lines.join("\n") + "\n" + extra);
  return `${dir}/fleet.yaml`;
}

/** Row counts of a dataset's tables that the fake's truth counts. */
async function countsOf(sql: postgres.Sql, dataset: string, truth: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const t of Object.keys(truth)) {
    const r = await sql.unsafe(`select count(*)::int as n from "${dataset}"."${t}"`);
    out[t] = r[0].n;
  }
  return out;
}

/** The fleet's jobs: state, pipeline, attempts, when they ran. */
async function jobs(sql: postgres.Sql) {
  return await sql<
    {
      id: string;
      state: string;
      pipeline: string;
      retry_count: number;
      started_on: Date | null;
      completed_on: Date | null;
      output: unknown;
      data: unknown;
    }[]
  >`select id, state, data->>'pipeline' as pipeline, retry_count, started_on, completed_on,
      output, data from restpipe_jobs.job where name = 'restpipe-runs' order by created_on`;
}

Deno.test({
  name:
    "a fleet of two workers loads three organisations, each into its own dataset, exact; the queue holds no credential; one run per token at a time",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    const fakes = await Promise.all(
      [1, 2].map((i) =>
        startFakeAsana({
          seed: 30 + i,
          tasksPerProject: 4,
          token: `org-${i}-token-${"x".repeat(20)}`,
          latencyMs: 2,
        })
      ),
    );
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const workers: ReturnType<typeof startWorker>[] = [];
    try {
      // org_c shares org_a's token (the same env file): never at the same time as org_a
      const fleet = await writeFleet(dir.path, [
        { name: "org_a", fake: fakes[0] },
        { name: "org_b", fake: fakes[1] },
        { name: "org_c", fake: fakes[0], envFile: "org_a.env" },
      ]);
      // room for every run at once: only the token keeps org_a and org_c apart
      workers.push(
        startWorker(db.url, fleet, "--concurrency", "2"),
        startWorker(db.url, fleet, "--concurrency", "2"),
      );
      const queued = await schedule(db.url, fleet, "--now", "all");
      assert.equal(queued.code, 0, queued.stderr);
      assert.match(queued.stdout, /org_a: queued \(job [0-9a-f]{8}\)/);
      await until(
        "three completed runs",
        180,
        async () => (await jobs(sql)).filter((j) => j.state === "completed").length === 3,
        async () =>
          `${JSON.stringify((await jobs(sql)).map((j) => [j.pipeline, j.state, j.output]))}\n${
            workers.map((w) => w.log()).join("\n")
          }`,
      );
      const spec = await asanaSpec(fakes[0].baseUrl, fakes[0].token);
      for (
        const [dataset, fake] of [["org_a", fakes[0]], ["org_b", fakes[1]], [
          "org_c",
          fakes[0],
        ]] as const
      ) {
        const truth = truthFor(spec, fake.groundTruth());
        assert.deepEqual(await countsOf(sql, dataset, truth), truth, dataset);
      }
      const all = await jobs(sql);
      // the queue carries pipeline names, never a token
      const text = JSON.stringify(all);
      for (const f of fakes) assert.equal(text.includes(f.token), false);
      // org_a and org_c share a token: their runs did not overlap
      const [a, c] = ["org_a", "org_c"].map((p) => all.find((j) => j.pipeline === p)!);
      assert.ok(
        a.completed_on! <= c.started_on! || c.completed_on! <= a.started_on!,
        `org_a ${a.started_on?.toISOString()}–${a.completed_on?.toISOString()}, org_c ${c.started_on?.toISOString()}–${c.completed_on?.toISOString()}`,
      );
      const logs = workers.map((w) => w.log()).join("\n");
      assert.match(logs, /org_b \(job [0-9a-f]{8}, attempt 1\): loaded in [\d.]+ s: \d+ requests/);
      const list = await schedule(db.url, fleet, "--list");
      assert.equal(list.code, 0, list.stderr);
      assert.equal(list.stdout.match(/^completed +org_/gm)?.length, 3, list.stdout);
    } finally {
      for (const w of workers) await w.stop();
      await sql.end();
      for (const f of fakes) await f.close();
    }
  },
});

Deno.test({
  name:
    "a worker killed mid-run (SIGKILL) takes its run with it; another worker takes the job once its heartbeat is missed, and the dataset ends exact",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    const fake = await startFakeAsana({ seed: 41, tasksPerProject: 20, latencyMs: 20 });
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    let second: ReturnType<typeof startWorker> | undefined;
    try {
      // one clean run's requests, for the cost of the kill
      const before = fake.stats.requests;
      await freshLoad(fake.baseUrl, fake.token);
      const clean = fake.stats.requests - before;
      const fleet = await writeFleet(dir.path, [{ name: "org_k", fake }]);
      const start = fake.stats.requests;
      const first = startWorker(db.url, fleet);
      assert.equal((await schedule(db.url, fleet, "--now", "org_k")).code, 0);
      await until(
        "the run to be under way",
        60,
        () => Promise.resolve(fake.stats.requests - start > clean / 2),
      );
      await first.stop("SIGKILL");
      // its run stops with it (its standard input closed): no request after a moment
      await new Promise((r) => setTimeout(r, 1500));
      const after = fake.stats.requests;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(fake.stats.requests, after, "the killed worker's run went on as an orphan");
      const killedAt = after;
      second = startWorker(db.url, fleet, "--supervise-seconds", "1");
      await until(
        "the job to complete on the second worker",
        120,
        async () => (await jobs(sql)).some((j) => j.state === "completed"),
      );
      const [job] = await jobs(sql);
      assert.equal(job.retry_count, 1, "one retry, after the missed heartbeat");
      assert.match(second.log(), /org_k \(job [0-9a-f]{8}, attempt 2\): loaded/);
      const spec = await asanaSpec(fake.baseUrl, fake.token);
      const truth = truthFor(spec, fake.groundTruth());
      assert.deepEqual(await countsOf(sql, "org_k", truth), truth);
      // the retried run resumed from the killed one's checkpoint
      const total = fake.stats.requests - start;
      console.log(
        `killed after ${killedAt - start} of ${clean} requests; ${total} in all (${
          (total / clean).toFixed(2)
        }× one clean run)`,
      );
      assert.ok(
        total <= 1.2 * clean,
        `${total} requests for a ${clean}-request load\n${second.log()}`,
      );
      assert.match(second.log(), /attempt 2\): resumed: \d+ answers of the run that stopped/);
    } finally {
      await second?.stop();
      await sql.end();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "a token the API refuses goes to the dead letter queue at once (one attempt); a 5xx outage is retried and loads",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    const fake = await startFakeAsana({ seed: 43, tasksPerProject: 3 });
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const worker = { w: undefined as ReturnType<typeof startWorker> | undefined };
    try {
      const fleet = await writeFleet(dir.path, [
        { name: "denied", fake, token: "not-the-token-1234567890" },
        { name: "outage", fake },
      ]);
      // the whole API answers 503 until the first attempt of "outage" has failed
      fake.faults.push({ match: /./, status: 503 });
      worker.w = startWorker(db.url, fleet, "--supervise-seconds", "1");
      assert.equal((await schedule(db.url, fleet, "--now", "denied")).code, 0);
      await until(
        "the denied run to end",
        60,
        async () => (await jobs(sql)).some((j) => j.pipeline === "denied" && j.state === "failed"),
      );
      assert.equal((await schedule(db.url, fleet, "--now", "outage")).code, 0);
      await until(
        "the outage's first attempt to fail",
        60,
        async () => (await jobs(sql)).some((j) => j.pipeline === "outage" && j.retry_count >= 1),
      );
      fake.faults.length = 0;
      await until(
        "the outage run to load",
        90,
        async () =>
          (await jobs(sql)).some((j) => j.pipeline === "outage" && j.state === "completed"),
      );
      const all = await jobs(sql);
      const denied = all.find((j) => j.pipeline === "denied")!;
      assert.equal(denied.retry_count, 0, "a refused token is not retried");
      assert.equal((denied.output as { exit_code: number }).exit_code, 1);
      const dead = await sql`select data->>'pipeline' as p from restpipe_jobs.job
        where name = 'restpipe-runs-dead'`;
      assert.deepEqual(dead.map((r) => r.p), ["denied"]);
      const log = worker.w.log();
      assert.match(
        log,
        /denied \(job [0-9a-f]{8}, attempt 1\): exit 1, not retried \(dead letter\)/,
      );
      assert.match(
        log,
        /outage \(job [0-9a-f]{8}, attempt 1\): exit 75 after [\d.]+ s, retried later/,
      );
      assert.match(log, /outage \(job [0-9a-f]{8}, attempt 2\): loaded/);
      assert.equal(log.includes("not-the-token-1234567890"), false);
      const spec = await asanaSpec(fake.baseUrl, fake.token);
      const truth = truthFor(spec, fake.groundTruth());
      assert.deepEqual(await countsOf(sql, "outage", truth), truth);
    } finally {
      await worker.w?.stop();
      await sql.end();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "schedule puts the fleet file's cron schedules in the queue: runs come on time, and a schedule taken out of the file is removed",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    const fake = await startFakeAsana({ seed: 44, tasksPerProject: 2 });
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    let worker: ReturnType<typeof startWorker> | undefined;
    try {
      const fleet = await writeFleet(dir.path, [{ name: "org_s", fake }]);
      const text = await Deno.readTextFile(fleet);
      // every 3 seconds (cron with a seconds field)
      await Deno.writeTextFile(
        fleet,
        text.replace(
          "    env_file: org_s.env\n",
          '    env_file: org_s.env\n    schedule: "*/3 * * * * *"\n',
        ),
      );
      const put = await schedule(db.url, fleet);
      assert.equal(put.code, 0, put.stderr);
      assert.match(put.stdout, /^org_s: runs at "\*\/3 \* \* \* \* \*" \(UTC\)$/m);
      worker = startWorker(db.url, fleet, "--supervise-seconds", "1");
      await until(
        "two scheduled runs",
        60,
        async () => (await jobs(sql)).filter((j) => j.state === "completed").length >= 2,
      );
      assert.ok(
        (await jobs(sql)).every((j) => (j.data as { reason: string }).reason === "schedule"),
      );
      // the schedule leaves the file: schedule removes it from the queue
      await Deno.writeTextFile(fleet, text);
      const removed = await schedule(db.url, fleet);
      assert.match(removed.stdout, /^org_s: schedule removed$/m);
      await until(
        "the last scheduled run to end",
        30,
        async () => (await jobs(sql)).every((j) => j.state === "completed"),
      );
      const n = (await jobs(sql)).length;
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal((await jobs(sql)).length, n, "a removed schedule queued a run");
    } finally {
      await worker?.stop();
      await sql.end();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "a pipeline's credentials in a .dlt folder of its own (dlt_dir): its runs read them there, and the queue never holds them",
  ignore: NO_POSTGRES,
  fn: async () => {
    await using db = await freshDatabase();
    await using dir = await tempDir();
    const fake = await startFakeAsana({
      seed: 45,
      tasksPerProject: 2,
      token: `dlt-token-${"d".repeat(20)}`,
    });
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    let worker: ReturnType<typeof startWorker> | undefined;
    try {
      const spec = await fastAsanaFile(dir.path);
      await Deno.mkdir(`${dir.path}/org_d/.dlt`, { recursive: true });
      await Deno.writeTextFile(
        `${dir.path}/org_d/.dlt/secrets.toml`,
        `[sources.asana]\naccess_token = "${fake.token}"\n`,
      );
      // the base URL is no secret: an env file beside it
      await Deno.writeTextFile(`${dir.path}/org_d.env`, `ASANA_BASE_URL=${fake.baseUrl}\n`);
      const fleet = `${dir.path}/fleet.yaml`;
      await Deno.writeTextFile(
        fleet,
        `pipelines:\n  org_d:\n    spec: ${spec}\n    dataset: org_d\n    env_file: org_d.env\n    dlt_dir: org_d\n`,
      );
      worker = startWorker(db.url, fleet);
      assert.equal((await schedule(db.url, fleet, "--now", "org_d")).code, 0);
      await until(
        "the run to load",
        90,
        async () => (await jobs(sql)).some((j) => j.state === "completed"),
      );
      const truth = truthFor(await asanaSpec(fake.baseUrl, fake.token), fake.groundTruth());
      assert.deepEqual(await countsOf(sql, "org_d", truth), truth);
      assert.equal(JSON.stringify(await jobs(sql)).includes(fake.token), false);
      assert.equal(worker.log().includes(fake.token), false);
    } finally {
      await worker?.stop();
      await sql.end();
      await fake.close();
    }
  },
});
