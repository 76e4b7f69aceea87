/**
 * The worker fleet's benchmark: N fake Asana organisations (each its own server, token and
 * Asana's limits), loaded by W workers (`restpipe worker` processes) from one queue in a
 * PostgreSQL server; wall time against the floor (the slowest organisation's requests at
 * its rate limit), CPU seconds and peak memory of each worker (its runs included). Then
 * pg-boss's own job throughput with no-op jobs, for the scale model.
 *
 *   RESTPIPE_BENCH_POSTGRES_URL=postgresql://… deno run -A scripts/bench_fleet.ts \
 *     [--orgs 8] [--workers 1,2,4] [--tasks 300] [--latency 100] [--rpm 1500] [--jobs 2000]
 *
 * @module
 */
import postgres from "postgres";
import { PgBoss } from "pg-boss";
import { parseArgs, stringFlag } from "../src/cli/args.ts";
import { cliCommand } from "../tests/helpers.ts";
import { sizedFor, startFakeAsana } from "../testing/fake_asana/mod.ts";

const args = parseArgs(Deno.args, {
  orgs: "value",
  workers: "value",
  tasks: "value",
  latency: "value",
  rpm: "value",
  jobs: "value",
});
const flag = (name: string, fallback: string) => stringFlag(args, name) ?? fallback;
const ORGS = Number(flag("orgs", "8"));
const WORKERS = flag("workers", "1,2,4").split(",").map(Number);
const TASKS = Number(flag("tasks", "300"));
const LATENCY = Number(flag("latency", "100"));
const RPM = Number(flag("rpm", "1500"));
const JOBS = Number(flag("jobs", "2000"));
const SERVER = Deno.env.get("RESTPIPE_BENCH_POSTGRES_URL");
if (!SERVER) {
  console.error("set RESTPIPE_BENCH_POSTGRES_URL=postgresql://USER:PASS@HOST:PORT/DB");
  Deno.exit(2);
}
const ROOT = new URL("..", import.meta.url).pathname;

/** A new database on the server; its URL. */
async function freshDatabase(name: string): Promise<string> {
  const admin = postgres(SERVER!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(SERVER!);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Fields of /proc/PID/stat after the command name (state is [0]). */
function procStat(pid: number): string[] | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Resident memory (MB) of a process and every process below it. */
function treeRssMb(root: number): number {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid)) continue;
    const ppid = Number(procStat(pid)?.[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(pid);
  }
  let pages = 0;
  const visit = (pid: number) => {
    try {
      pages += Number(Deno.readTextFileSync(`/proc/${pid}/statm`).split(" ")[1]);
    } catch { /* gone */ }
    for (const c of children.get(pid) ?? []) visit(c);
  };
  visit(root);
  return pages * 4096 / 1024 / 1024;
}

/** CPU seconds of a process and its reaped children (utime, stime, cutime, cstime). */
function cpuSeconds(pid: number): number {
  const f = procStat(pid);
  if (!f) return NaN;
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

const rows: string[] = [];
for (const w of WORKERS) {
  const url = await freshDatabase(`bench_fleet_w${w}`);
  const dir = await Deno.makeTempDir({ prefix: "restpipe-fleet-bench-" });
  const fakes = await Promise.all(
    Array.from({ length: ORGS }, (_, i) =>
      startFakeAsana({
        ...sizedFor(TASKS),
        seed: 100 + i,
        token: `bench-token-${i}-${"t".repeat(16)}`,
        latencyMs: LATENCY,
        jitterMs: LATENCY / 5,
        rateLimit: { requests: RPM, windowMs: 60_000 },
        maxInFlight: 50,
      })),
  );
  const lines = ["pipelines:"];
  for (const [i, f] of fakes.entries()) {
    await Deno.writeTextFile(
      `${dir}/org${i}.env`,
      `ASANA_ACCESS_TOKEN=${f.token}\nASANA_BASE_URL=${f.baseUrl}\n`,
    );
    lines.push(
      `  org${i}:`,
      `    spec: ${ROOT}pipelines/asana.yaml`,
      `    dataset: org${i}`,
      `    env_file: org${i}.env`,
    );
  }
  await Deno.writeTextFile(`${dir}/fleet.yaml`, lines.join("\n") + "\n");
  const env = { DESTINATION__POSTGRES__CREDENTIALS: url, PATH: Deno.env.get("PATH") ?? "" };
  const workers = Array.from({ length: w }, () =>
    cliCommand([
      "worker",
      `${dir}/fleet.yaml`,
      "--poll-seconds",
      "0.5",
    ], {
      env,
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    }).spawn());
  const t0 = performance.now();
  const queued = await cliCommand([
    "schedule",
    `${dir}/fleet.yaml`,
    "--now",
    "all",
  ], {
    env,
    clearEnv: true,
  }).output();
  if (!queued.success) throw new Error(new TextDecoder().decode(queued.stderr));
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const peak = workers.map(() => 0);
  const sampler = setInterval(() => {
    for (const [i, p] of workers.entries()) peak[i] = Math.max(peak[i], treeRssMb(p.pid));
  }, 500);
  for (;;) {
    const r = await sql`select count(*) filter (where state = 'completed')::int as done,
      count(*) filter (where state = 'failed')::int as failed
      from restpipe_jobs.job where name = 'restpipe-runs'`;
    if (r[0].done + r[0].failed >= ORGS) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const wall = (performance.now() - t0) / 1000;
  const failed = (await sql`select count(*)::int as n from restpipe_jobs.job
    where name = 'restpipe-runs' and state <> 'completed'`)[0].n;
  await sql.end();
  clearInterval(sampler);
  const reports = workers.map((p, i) => ({ cpu: cpuSeconds(p.pid), rssMb: peak[i] }));
  for (const p of workers) p.kill("SIGTERM");
  await Promise.all(workers.map((p) => p.status));
  const requests = fakes.map((f) => f.stats.requests);
  // the rate floor of the slowest organisation: a sliding window lets RPM through at once,
  // then RPM a minute
  const floor = Math.max(...requests.map((r) => Math.max(0, r - RPM) * 60 / RPM));
  const total = requests.reduce((a, b) => a + b, 0);
  const cpu = reports.map((r) => r.cpu.toFixed(0)).join(" / ");
  const rss = reports.map((r) => r.rssMb.toFixed(0)).join(" / ");
  rows.push(
    `| ${ORGS} | ${w} | ${wall.toFixed(0)} s | ${floor.toFixed(0)} s | ${
      (wall / Math.max(floor, 1)).toFixed(1)
    }× | ${total.toLocaleString("en-US")} | ${failed} | ${cpu} | ${rss} |`,
  );
  console.log(rows.at(-1));
  for (const f of fakes) await f.close();
  await Deno.remove(dir, { recursive: true });
}
console.log(
  `\n${ORGS} organisations of about ${TASKS} tasks, ${LATENCY} ms latency, ${RPM} requests/min each`,
);
console.log(
  "| orgs | workers | wall | floor (slowest org at its rate) | wall ÷ floor | requests | not completed | CPU s per worker (runs included) | peak RSS MB per worker |",
);
console.log("|---:|---:|---:|---:|---:|---:|---:|---|---|");
for (const r of rows) console.log(r);

// pg-boss's own throughput: JOBS no-op jobs, sent in one batch, worked by 4 pollers
{
  const url = await freshDatabase("bench_fleet_queue");
  const boss = new PgBoss({ connectionString: url, schema: "restpipe_jobs" });
  boss.on("error", () => {});
  await boss.start();
  await boss.createQueue("noop");
  const t0 = performance.now();
  await boss.insert("noop", Array.from({ length: JOBS }, (_, i) => ({ data: { i } })));
  const sent = (performance.now() - t0) / 1000;
  let done = 0;
  const t1 = performance.now();
  await new Promise<void>((resolve) => {
    boss.work(
      "noop",
      { localConcurrency: 4, batchSize: 20, pollingIntervalSeconds: 0.5 },
      (jobs) => {
        done += jobs.length;
        if (done >= JOBS) resolve();
        return Promise.resolve();
      },
    );
  });
  const worked = (performance.now() - t1) / 1000;
  await boss.stop({ graceful: false, timeout: 1000 });
  console.log(
    `\npg-boss: ${JOBS} jobs inserted in ${sent.toFixed(2)} s; fetched and completed in ${
      worked.toFixed(1)
    } s (${(JOBS / worked).toFixed(0)} jobs/s with 4 pollers of 20)`,
  );
}
