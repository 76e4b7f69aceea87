/**
 * `restpipe worker` and `restpipe schedule`: a fleet of workers on any number of
 * machines, sharing one job queue (pg-boss) in the PostgreSQL server the data goes
 * into. `schedule` puts the fleet file's cron schedules in the queue (and queues runs at
 * once with `--now`, or lists what ran with `--list`); `worker` takes runs from it.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { parseArgs, stringFlag, UsageError } from "../args.ts";
import { out } from "../io.ts";
import { targetOf, untilSignal } from "../common.ts";
import { type FleetPipeline, loadFleet } from "../../fleet/config.ts";
import { DEAD_QUEUE, openQueue, type RunJobData, RUNS_QUEUE } from "../../fleet/queue.ts";
import { startWorker } from "../../fleet/worker.ts";
import { EXIT } from "../../core/exit.ts";

const WORKER_FLAGS = {
  destination: "value",
  concurrency: "value",
  "poll-seconds": "value",
  "supervise-seconds": "value",
} as const;

const SCHEDULE_FLAGS = {
  destination: "value",
  now: "value",
  list: "flag",
} as const;

/** The PostgreSQL server of `--destination` (a URL or `postgres`, as `run` takes it). */
function serverOf(destination: string | undefined): string {
  const target = targetOf(
    { flags: new Map(destination ? [["destination", destination]] : []), positional: [] },
    "",
  );
  if (target.kind !== "postgres") {
    throw new UsageError(
      "a fleet needs a PostgreSQL server: --destination postgresql://… or postgres " +
        "(DESTINATION__POSTGRES__CREDENTIALS or .dlt/secrets.toml)",
    );
  }
  return target.url;
}

/** A positive number flag. */
function numberFlag(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} ${value}: expected ≥ ${min}`);
  return n;
}

/** A fleet command's arguments, its fleet file (exactly one) and its PostgreSQL server. */
async function fleetArgs<F extends Record<string, "value" | "flag">>(
  argv: string[],
  flags: F,
  usage: string[],
) {
  const args = parseArgs(argv, flags);
  if (args.positional.length !== 1) {
    throw new UsageError(`one fleet file, please\n${usage.join("\n")}`);
  }
  const fleet = await loadFleet(args.positional[0]);
  return { args, fleet, url: serverOf(stringFlag(args, "destination") ?? "postgres") };
}

const WORKER_USAGE = [
  "worker <fleet.yaml> [--destination URL|postgres] [--concurrency N] [--poll-seconds S]",
];

/** `restpipe worker`. */
export const workerCommand: Command = {
  name: "worker",
  summary: "takes runs of a fleet's pipelines from the job queue and runs them",
  usage: WORKER_USAGE,
  flags: WORKER_FLAGS,
  run: async (argv) => {
    const { args, fleet, url } = await fleetArgs(argv, WORKER_FLAGS, WORKER_USAGE);
    const boss = await openQueue(url, fleet, {
      schedule: true,
      superviseSeconds: args.flags.has("supervise-seconds")
        ? numberFlag(stringFlag(args, "supervise-seconds"), "supervise-seconds", 60)
        : undefined,
    });
    const worker = await startWorker(boss, fleet, url, {
      concurrency: numberFlag(stringFlag(args, "concurrency"), "concurrency", 1),
      pollSeconds: numberFlag(stringFlag(args, "poll-seconds"), "poll-seconds", 2, 0.5),
      log: out,
    });
    await untilSignal();
    out(`${new Date().toISOString()} stopping: runs in progress roll back and are retried`);
    await worker.stop();
    return EXIT.ok;
  },
  notes: `Each run is a \`restpipe run\` process with its pipeline's env file in its
environment. Exit 0: the job completes; 75, or stopped by a signal: retried later with
backoff (retry: in the fleet file); 1 or 2: moved to the dead letter queue at once.
SIGTERM or Ctrl-C: the runs roll back, their jobs are retried by another worker.`,
};

const SCHEDULE_USAGE = [
  "schedule <fleet.yaml> [--destination URL|postgres] [--now a,b | --now all] [--list]",
];

/** `restpipe schedule`. */
export const scheduleCommand: Command = {
  name: "schedule",
  summary: "puts a fleet file's schedules in the job queue, queues runs now, lists runs",
  usage: SCHEDULE_USAGE,
  flags: SCHEDULE_FLAGS,
  run: async (argv) => {
    const { args, fleet, url } = await fleetArgs(argv, SCHEDULE_FLAGS, SCHEDULE_USAGE);
    const now = stringFlag(args, "now");
    const names = now === undefined
      ? []
      : now === "all"
      ? [...fleet.pipelines.keys()]
      : now.split(",").map((s) => s.trim()).filter(Boolean);
    for (const n of names) {
      if (!fleet.pipelines.has(n)) {
        throw new UsageError(`--now ${n}: no such pipeline in ${fleet.file}`);
      }
    }
    const boss = await openQueue(url, fleet);
    try {
      if (args.flags.has("list")) {
        out(await listRuns(boss));
        return EXIT.ok;
      }
      // the schedules: the fleet file's, and none other
      const existing = await boss.getSchedules(RUNS_QUEUE);
      for (const s of existing) {
        if (!fleet.pipelines.get(s.key)?.schedule) {
          await boss.unschedule(RUNS_QUEUE, s.key);
          out(`${s.key}: schedule removed`);
        }
      }
      for (const p of fleet.pipelines.values()) {
        if (!p.schedule) continue;
        const data: RunJobData = { pipeline: p.name, reason: "schedule" };
        await boss.schedule(RUNS_QUEUE, p.schedule, data, {
          key: p.name,
          tz: p.tz ?? "UTC",
          ...jobOptions(p),
        });
        out(`${p.name}: runs at "${p.schedule}" (${p.tz ?? "UTC"})`);
      }
      for (const n of names) {
        const p = fleet.pipelines.get(n)!;
        const data: RunJobData = { pipeline: n, reason: "manual" };
        const id = await boss.send(RUNS_QUEUE, data, jobOptions(p));
        out(id ? `${n}: queued (job ${id.slice(0, 8)})` : `${n}: a run is queued already`);
      }
    } finally {
      await boss.stop({ graceful: false, timeout: 1000 });
    }
    return EXIT.ok;
  },
};

/**
 * A pipeline's job keys: its name as the singleton key (one queued and one active run
 * per pipeline, so per dataset), its credentials as the group (one run per token across
 * the fleet, which workers enforce).
 */
function jobOptions(p: FleetPipeline) {
  return { singletonKey: p.name, group: { id: p.key } };
}

/** The queue's recent runs and dead letters, newest first. */
async function listRuns(boss: Awaited<ReturnType<typeof openQueue>>): Promise<string> {
  const lines = ["state       pipeline          attempts  created               exit  note"];
  for (const queue of [RUNS_QUEUE, DEAD_QUEUE]) {
    const jobs = await boss.findJobs<RunJobData>(queue);
    jobs.sort((a, b) => +new Date(b.createdOn) - +new Date(a.createdOn));
    for (const j of jobs.slice(0, 50)) {
      const output = (j.output ?? {}) as { exit_code?: number; error?: string };
      const state = queue === DEAD_QUEUE ? "dead letter" : j.state;
      lines.push(
        `${state.padEnd(11)} ${String(j.data?.pipeline ?? "?").padEnd(17)} ${
          String(j.retryCount + 1).padEnd(9)
        } ${new Date(j.createdOn).toISOString().slice(0, 19)}   ${
          String(output.exit_code ?? "").padEnd(4)
        }  ${(output.error ?? "").slice(0, 80)}`,
      );
    }
  }
  return lines.join("\n");
}
