/**
 * `restpipe worker`: takes runs from the fleet's queue and runs each as its own
 * `restpipe run` process, with the organisation's credentials in that process's
 * environment only. The run's exit code decides what becomes of the job: 0 completed;
 * 75 (temporary), or the run stopped by a signal, failed and retried later with backoff;
 * 1 or 2 (retrying will not help) moved at once to the dead letter queue.
 *
 * A run's process reads its standard input and stops (rolling back, as on SIGTERM)
 * when it closes: a worker that dies, however it dies, takes its runs with it, and the
 * job is retried by another worker once its heartbeat is missed.
 *
 * @module
 */
import type { PgBoss } from "pg-boss";
import type { Fleet, FleetPipeline } from "./config.ts";
import { parseEnvFile } from "./config.ts";
import { type RunJobData, RUNS_QUEUE } from "./queue.ts";
import { EXIT } from "../core/exit.ts";

/** The checkout's CLI and its config, for the runs' processes. */
const MAIN = new URL("../cli/main.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

/** Environment variables a run inherits from the worker (besides its own file's). */
const INHERITED = ["PATH", "HOME", "DENO_DIR", "TMPDIR", "TZ", "LANG"];
const INHERITED_PREFIXES = ["OTEL_"];

/** How one run ended. */
export interface RunOutcome {
  /** The exit code (a signal's death counts as 143). */
  code: number;
  /** The run's `--summary-json` document, when it wrote one. */
  summary: Record<string, unknown> | undefined;
  /** The last line the run logged at level error, when there is one. */
  error: string | undefined;
}

/** Runs one pipeline of the fleet as a `restpipe run` process; resolves when it ends. */
export async function runProcess(
  pipeline: FleetPipeline,
  destinationUrl: string,
  signal: AbortSignal,
  onEvent: (event: Record<string, unknown>) => void = () => {},
): Promise<RunOutcome> {
  const dir = await Deno.makeTempDir({ prefix: "restpipe-job-" });
  const summaryFile = `${dir}/summary.json`;
  try {
    const env: Record<string, string> = {};
    for (const [k, value] of Object.entries(Deno.env.toObject())) {
      if (INHERITED.includes(k) || INHERITED_PREFIXES.some((p) => k.startsWith(p))) env[k] = value;
    }
    if (pipeline.env_file) {
      Object.assign(env, parseEnvFile(await Deno.readTextFile(pipeline.env_file)));
    }
    env.DESTINATION__POSTGRES__CREDENTIALS = destinationUrl;
    env.RESTPIPE_STOP_WITH_STDIN = "1";
    env.NO_COLOR = "1";
    const args = [
      "run",
      "--quiet",
      `--config=${CONFIG.pathname}`,
      "--v8-flags=--memory-saver-mode",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      "--allow-sys=uid,gid,homedir,osRelease",
      MAIN.pathname,
      "run",
      pipeline.spec,
      "--destination",
      "postgres",
      "--quiet",
      "--log-format",
      "json",
      "--summary-json",
      summaryFile,
      ...(pipeline.dataset ? ["--dataset", pipeline.dataset] : []),
      ...(pipeline.resources ? ["--resources", pipeline.resources.join(",")] : []),
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env,
      clearEnv: true,
      cwd: pipeline.dlt_dir ?? dir,
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // the run stops when its standard input closes: on abort here, or with this process
    const stdin = child.stdin.getWriter();
    const stop = () => stdin.close().catch(() => {});
    signal.addEventListener("abort", stop, { once: true });
    let error: string | undefined;
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
    for await (const line of lines) {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line);
      } catch {
        event = { level: "error", event: "output", message: line };
      }
      if (event.level === "error" && typeof event.message === "string") error = event.message;
      onEvent(event);
    }
    const status = await child.status;
    signal.removeEventListener("abort", stop);
    await stop();
    let summary: Record<string, unknown> | undefined;
    try {
      summary = JSON.parse(await Deno.readTextFile(summaryFile));
    } catch { /* the run ended before it could write one */ }
    return { code: status.signal ? EXIT.sigterm : status.code, summary, error };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Splits a text stream into lines. */
function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) if (p !== "") controller.enqueue(p);
    },
    flush(controller) {
      if (rest !== "") controller.enqueue(rest);
    },
  });
}

/** Is this exit code worth a retry (a temporary failure, or a run stopped by a signal)? */
export function retryable(code: number): boolean {
  return code === EXIT.tempfail || code === EXIT.sigterm || code === EXIT.sigint;
}

/** Options of {@linkcode startWorker}. */
export interface WorkerOptions {
  /** Runs this worker takes at once. */
  concurrency: number;
  /** Seconds between two looks at the queue when it is empty. */
  pollSeconds: number;
  /** Where each line of what the worker does goes. */
  log: (line: string) => void;
}

/** A started worker; `stop()` ends its runs (they roll back and are retried) and leaves. */
export interface Worker {
  stop(): Promise<void>;
}

/** Takes runs from the queue until stopped. */
export async function startWorker(
  boss: PgBoss,
  fleet: Fleet,
  destinationUrl: string,
  options: WorkerOptions,
): Promise<Worker> {
  const running = new Set<AbortController>();
  const log = (text: string) => options.log(`${new Date().toISOString()} ${text}`);
  const id = await boss.work<RunJobData>(RUNS_QUEUE, {
    localConcurrency: options.concurrency,
    // one run per organisation's token across the whole fleet (jobs are grouped by it)
    groupConcurrency: 1,
    pollingIntervalSeconds: options.pollSeconds,
    perJobResults: true,
  }, async (jobs) => {
    const results = [];
    for (const job of jobs) {
      const tag = `${job.data.pipeline} (job ${job.id.slice(0, 8)}, attempt ${job.retryCount + 1})`;
      const pipeline = fleet.pipelines.get(job.data.pipeline);
      if (!pipeline) {
        log(`${tag}: not in ${fleet.file}: dead letter`);
        results.push({
          id: job.id,
          status: "deadletter" as const,
          output: { error: `no pipeline ${job.data.pipeline} in the fleet file` },
        });
        continue;
      }
      log(`${tag}: started`);
      const controller = new AbortController();
      running.add(controller);
      job.signal.addEventListener("abort", () => controller.abort(), { once: true });
      const t0 = performance.now();
      try {
        const outcome = await runProcess(pipeline, destinationUrl, controller.signal, (e) => {
          // what became of an earlier attempt's checkpoint: resumed, or discarded and why
          if (e.event === "checkpoint") log(`${tag}: ${e.message}`);
        });
        const seconds = ((performance.now() - t0) / 1000).toFixed(1);
        const s = outcome.summary ?? {};
        const output = { exit_code: outcome.code, error: outcome.error, summary: outcome.summary };
        if (outcome.code === 0) {
          log(
            `${tag}: loaded in ${seconds} s: ${s.requests ?? "?"} requests, load ${
              s.load_id ?? "?"
            }`,
          );
          results.push({ id: job.id, status: "completed" as const, output });
        } else if (retryable(outcome.code)) {
          log(
            `${tag}: exit ${outcome.code} after ${seconds} s, retried later: ${
              outcome.error ?? ""
            }`,
          );
          results.push({ id: job.id, status: "failed" as const, output });
        } else {
          log(`${tag}: exit ${outcome.code}, not retried (dead letter): ${outcome.error ?? ""}`);
          results.push({ id: job.id, status: "deadletter" as const, output });
        }
      } finally {
        running.delete(controller);
      }
    }
    return results;
  });
  log(`worker ${id.slice(0, 8)}: waiting for runs of ${[...fleet.pipelines.keys()].join(", ")}`);
  return {
    async stop() {
      await boss.offWork(RUNS_QUEUE, { id, wait: false }).catch(() => {});
      for (const c of running) c.abort();
      await boss.stop({ graceful: true, timeout: 30_000 });
    },
  };
}
