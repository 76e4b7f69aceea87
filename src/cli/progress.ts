/**
 * Live progress: a table redrawn in place on a terminal, a plain log line every few
 * seconds when output is piped.
 *
 * @module
 */
import type { Progress } from "../pipeline.ts";
import { pad } from "./format.ts";

/** How much to say while a run goes on. */
export type Verbosity = "quiet" | "normal" | "verbose";

/** The progress table: per resource rows, pages, requests; the rate against the limit. */
export function formatProgress(p: Progress): string[] {
  const rate = p.seconds > 0 ? p.requests / p.seconds : 0;
  const limit = p.requestsPerMinute ? ` of ${(p.requestsPerMinute / 60).toFixed(1)}/s` : "";
  const w = Math.max(8, ...p.resources.map((r) => r.resource.length));
  const lines = [
    `${p.seconds.toFixed(1)} s  ${p.requests} requests (${rate.toFixed(1)}/s${limit})  ` +
    `${p.retries} retries  ${p.throttled} throttled (429)`,
    `${pad("resource", w)}  ${pad("rows", 9, true)}  ${pad("pages", 7, true)}  ${
      pad("requests", 8, true)
    }`,
  ];
  for (const r of p.resources) {
    lines.push(
      `${pad(r.resource, w)}  ${pad(r.rows, 9, true)}  ${pad(r.pages, 7, true)}  ${
        pad(r.requests, 8, true)
      }`,
    );
  }
  return lines;
}

/** One line for logs: `[12.0 s] 340 requests (28.3/s of 25.0/s), 0 retries, 0 throttled; tasks 1200 …`. */
export function formatProgressLine(p: Progress): string {
  const rate = p.seconds > 0 ? p.requests / p.seconds : 0;
  const limit = p.requestsPerMinute ? ` of ${(p.requestsPerMinute / 60).toFixed(1)}/s` : "";
  const rows = p.resources.filter((r) => r.rows > 0).map((r) => `${r.resource} ${r.rows}`).join(
    ", ",
  );
  return `[${p.seconds.toFixed(1)} s] ${p.requests} requests (${rate.toFixed(1)}/s${limit}), ` +
    `${p.retries} retries, ${p.throttled} throttled; rows: ${rows || "none yet"}`;
}

/**
 * A progress sink for `runPipeline`. On a terminal it redraws the table in place (one
 * redraw at a time, on stderr); otherwise it logs a line every `logEverySeconds`.
 */
export class ProgressReporter {
  readonly #terminal: boolean;
  readonly #verbosity: Verbosity;
  readonly #logEvery: number;
  #drawn = 0;
  #lastLog = 0;
  readonly #encoder = new TextEncoder();
  readonly #out: { writeSync(p: Uint8Array): number };

  /** Creates a reporter writing to `out` (stderr by default). */
  constructor(
    verbosity: Verbosity,
    terminal: boolean = Deno.stderr.isTerminal(),
    logEverySeconds = 5,
    out: { writeSync(p: Uint8Array): number } = Deno.stderr,
  ) {
    this.#out = out;
    this.#verbosity = verbosity;
    this.#terminal = terminal && verbosity !== "verbose";
    this.#logEvery = verbosity === "verbose" ? 1 : logEverySeconds;
  }

  /** Receives a snapshot. */
  update = (p: Progress): void => {
    if (this.#verbosity === "quiet") return;
    if (this.#terminal) {
      const lines = formatProgress(p);
      const up = this.#drawn > 0 ? `\x1b[${this.#drawn}F\x1b[J` : "";
      this.#out.writeSync(this.#encoder.encode(up + lines.join("\n") + "\n"));
      this.#drawn = lines.length;
    } else if (p.seconds - this.#lastLog >= this.#logEvery) {
      this.#lastLog = p.seconds;
      this.#out.writeSync(this.#encoder.encode(formatProgressLine(p) + "\n"));
    }
  };

  /** Clears the live table before the final summary. */
  done(): void {
    if (this.#terminal && this.#drawn > 0) {
      this.#out.writeSync(this.#encoder.encode(`\x1b[${this.#drawn}F\x1b[J`));
      this.#drawn = 0;
    }
  }
}
