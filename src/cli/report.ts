/**
 * What a run says to machines: `--log-format json` (one JSON object a line on standard
 * error: `level`, `time`, `event`, and the event's figures) and `--summary-json FILE` (the
 * run's outcome and figures in one JSON document, written whether the run succeeded or
 * not). Both carry no secret: every string goes through the same redaction as the text
 * output.
 *
 * @module
 */
import type { Progress, RunResult } from "../pipeline.ts";
import { waitingText } from "./progress.ts";
import config from "../../deno.json" with { type: "json" };

/** How a run ended. */
export type RunOutcome = "loaded" | "failed" | "interrupted";

/** The document `--summary-json` writes. */
export interface RunSummaryJson {
  /** restpipe's version. */
  restpipe: string;
  pipeline: string;
  dataset: string;
  /** How the run ended, and the exit code the command returned. */
  status: RunOutcome;
  exit_code: number;
  /** True when a later run may succeed as it is (exit code 75). */
  transient: boolean;
  /** The load id of a committed run (null when nothing was committed). */
  load_id: string | null;
  started_at: string;
  finished_at: string;
  seconds: number;
  /** Requests sent (retries included), retries, and answers that were 429. */
  requests: number;
  retries: number;
  throttled: number;
  /** Rows written and deleted per table, by the commit (empty when nothing was committed). */
  tables: Record<string, { rows: number; deleted: number }>;
  /** Per resource: rows, requests, seconds, deletions, and what it skipped or deferred. */
  resources: {
    resource: string;
    table: string;
    rows: number;
    received: number;
    requests: number;
    seconds: number;
    deleted: number;
    /** Listings that were not due (`refresh_every`): their rows were kept. */
    deferred: boolean;
    /** New to the dataset: loaded under every existing parent. */
    backfilled: boolean;
    /** Requests a status rule skipped. */
    skipped: number;
    /** Records listed again although their cursor had not moved. */
    watched: number;
    /** Some listing was skipped or capped: rows it would have covered were kept. */
    incomplete: boolean;
  }[];
  /** Answers taken from the last failed run's checkpoint instead of the API. */
  resumed_answers: number;
  /** Per incremental resource, the partitions whose cursor this load moved. */
  cursors_moved: Record<string, number>;
  /** The failure, with secrets removed (absent on success). */
  error?: string;
}

/** What {@linkcode summaryJson} is made from. */
export interface SummaryInput {
  pipeline: string;
  dataset: string;
  started: Date;
  code: number;
  outcome: RunOutcome;
  transient: boolean;
  /** The result of a committed run. */
  result?: RunResult;
  /** The last progress seen (a failed run's figures so far). */
  progress?: Progress;
  /** A failed run's figures when it stopped (they are newer than its last progress). */
  figures?: { requests: number; retries: number; throttled: number };
  /** The failure's message, already redacted. */
  error?: string;
}

/** The `--summary-json` document of a run. */
export function summaryJson(input: SummaryInput, now = new Date()): RunSummaryJson {
  const r = input.result;
  const p = input.progress;
  const tables: RunSummaryJson["tables"] = {};
  for (const [table, rows] of Object.entries(r?.tables ?? {})) {
    tables[table] = { rows, deleted: 0 };
  }
  for (const s of r?.resources ?? []) {
    if (tables[s.table]) tables[s.table].deleted = s.deleted;
  }
  return {
    restpipe: config.version,
    pipeline: input.pipeline,
    dataset: input.dataset,
    status: input.outcome,
    exit_code: input.code,
    transient: input.transient,
    load_id: r?.loadId ?? null,
    started_at: input.started.toISOString(),
    finished_at: now.toISOString(),
    seconds: r?.seconds ?? (now.getTime() - input.started.getTime()) / 1000,
    requests: r?.requests ?? input.figures?.requests ?? p?.requests ?? 0,
    retries: r?.retries ?? input.figures?.retries ?? p?.retries ?? 0,
    throttled: r?.throttled ?? input.figures?.throttled ?? p?.throttled ?? 0,
    tables,
    resources: r
      ? r.resources.map((s) => ({
        resource: s.resource,
        table: s.table,
        rows: s.rows,
        received: s.received,
        requests: s.requests,
        seconds: s.seconds,
        deleted: s.deleted,
        deferred: s.deferred,
        backfilled: s.backfilled,
        skipped: s.skipped.reduce((a, k) => a + k.count, 0),
        watched: s.watched,
        incomplete: s.incomplete,
      }))
      : (p?.resources ?? []).map((s) => ({
        resource: s.resource,
        table: s.resource,
        rows: 0,
        received: s.rows,
        requests: s.requests,
        seconds: 0,
        deleted: 0,
        deferred: false,
        backfilled: false,
        skipped: 0,
        watched: 0,
        incomplete: true,
      })),
    resumed_answers: r?.checkpoint?.replayed ?? 0,
    cursors_moved: r?.cursorsMoved ?? {},
    ...(input.error !== undefined ? { error: input.error } : {}),
  };
}

/** One line of `--log-format json`. */
export interface LogLine {
  level: "info" | "warn" | "error";
  time: string;
  event: string;
  [figure: string]: unknown;
}

/**
 * `--log-format json`: progress as JSON lines. Each update writes one `progress` line
 * (requests, retries, 429s, the rate window) and one `resource` line per resource whose
 * figures moved since the last update; a wait for the rate window, a pause after a 429
 * or a retry is a `waiting` line (level `warn` for a retry or a pause), once per change.
 */
export class JsonLog {
  readonly #write: (line: string) => void;
  readonly #now: () => Date;
  readonly #last = new Map<string, string>();
  #waiting: string | undefined;

  /** `write` gets one line (without its newline) at a time. */
  constructor(write: (line: string) => void, now: () => Date = () => new Date()) {
    this.#write = write;
    this.#now = now;
  }

  /** Writes one event. */
  log(level: LogLine["level"], event: string, figures: Record<string, unknown> = {}): void {
    const line: LogLine = { level, time: this.#now().toISOString(), event, ...figures };
    this.#write(JSON.stringify(line));
  }

  /** The lines of one progress update. */
  update = (p: Progress): void => {
    this.log("info", "progress", {
      seconds: Math.round(p.seconds * 10) / 10,
      requests: p.requests,
      retries: p.retries,
      throttled: p.throttled,
      requests_in_window: p.window.inWindow,
      window_limit: p.window.quota ?? null,
    });
    for (const r of p.resources) {
      const figures = { rows: r.rows, pages: r.pages, requests: r.requests, chains: r.chains };
      const key = JSON.stringify(figures);
      if (this.#last.get(r.resource) === key) continue;
      this.#last.set(r.resource, key);
      this.log("info", "resource", { resource: r.resource, ...figures, retries: r.retries });
    }
    const waiting = waitingText(p);
    const kind = p.window.waitingFor ?? (p.retrying ? "retry" : undefined);
    if (waiting !== undefined && kind !== this.#waiting) {
      this.log(kind === "window" ? "info" : "warn", "waiting", {
        for: kind,
        message: waiting,
        ...(p.retrying ? { resource: p.retrying.resource, attempt: p.retrying.attempt } : {}),
      });
    }
    this.#waiting = waiting === undefined ? undefined : kind;
  };
}
