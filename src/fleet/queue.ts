/**
 * The fleet's job queue: pg-boss in the PostgreSQL server the data goes into (its own
 * schema, `restpipe_jobs`). One queue of runs: a job's singleton key is its pipeline
 * (at most one active run per dataset) and its group the pipeline's credentials (at most
 * one active run per organisation's token, across every worker); a dead letter queue for
 * runs that failed for good.
 *
 * pg-boss (12.x, on node-postgres) runs under Deno's npm compatibility as it is: the
 * tests start workers against a real PostgreSQL server.
 *
 * @module
 */
import { PgBoss } from "pg-boss";
import type { Fleet } from "./config.ts";

/** The queue of runs. */
export const RUNS_QUEUE = "restpipe-runs";
/** Runs that failed for good (exit code 1 or 2), or whose retries ran out. */
export const DEAD_QUEUE = "restpipe-runs-dead";
/** The schema pg-boss keeps its tables in. */
export const JOBS_SCHEMA = "restpipe_jobs";

/** What a job carries: the pipeline's name in the fleet file, never a credential. */
export interface RunJobData {
  pipeline: string;
  /** Why it was queued: its schedule, or `schedule --now`. */
  reason: "schedule" | "manual";
}

/** Options of {@linkcode openQueue}. */
export interface QueueOptions {
  /**
   * How often this process looks for jobs whose worker stopped proving it is alive, and
   * for schedules that came due, in seconds (pg-boss's supervise, monitor and cron
   * intervals; its defaults otherwise).
   */
  superviseSeconds?: number;
  /** Runs the schedules' clock in this process (workers do; `schedule` does not). */
  schedule?: boolean;
}

/** Connects pg-boss to `url` (creating or migrating its schema) and makes both queues. */
export async function openQueue(
  url: string,
  fleet: Fleet,
  options: QueueOptions = {},
): Promise<PgBoss> {
  const supervise = options.superviseSeconds;
  const boss = new PgBoss({
    connectionString: url,
    schema: JOBS_SCHEMA,
    // a worker's queue needs few connections (each run holds one of its own)
    max: 3,
    schedule: options.schedule ?? false,
    ...(supervise !== undefined
      ? {
        superviseIntervalSeconds: supervise,
        monitorIntervalSeconds: supervise,
        cronWorkerIntervalSeconds: supervise,
        cronMonitorIntervalSeconds: supervise,
        maintenanceIntervalSeconds: Math.max(supervise, 1),
      }
      : {}),
  });
  boss.on("error", (e: unknown) => {
    console.error(`job queue: ${e instanceof Error ? e.message : String(e)}`);
  });
  await boss.start();
  if (!(await boss.getQueue(DEAD_QUEUE))) await boss.createQueue(DEAD_QUEUE);
  const settings = {
    retryLimit: fleet.retry.limit,
    retryDelay: fleet.retry.delay_seconds,
    retryBackoff: true,
    retryDelayMax: fleet.retry.max_delay_seconds,
    heartbeatSeconds: fleet.heartbeatSeconds,
    // a run may take hours: a missing heartbeat ends a dead worker's job; pg-boss's
    // longest expiry (24 h) bounds a live one (Asana's quota allows 2 million requests)
    expireInSeconds: 24 * 3600,
    deadLetter: DEAD_QUEUE,
  };
  if (!(await boss.getQueue(RUNS_QUEUE))) {
    // one queued and one active job per pipeline (its singleton key): a schedule that
    // fires while its last run still goes queues one run after it, not a pile
    await boss.createQueue(RUNS_QUEUE, { policy: "stately", ...settings });
  } else {
    const { heartbeatSeconds: _, deadLetter: __, retryDelayMax: ___, ...updatable } = settings;
    await boss.updateQueue(RUNS_QUEUE, updatable);
  }
  return boss;
}
