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

/** A whole number with thousands separators: `1,500`. */
function n(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

/** The rate window's use: `1,312 requests in the last minute, of 1,500`. */
function windowText(p: Progress): string {
  const w = p.window;
  if (w.quota === undefined) return "no rate limit";
  const span = w.windowMs === 60_000 ? "minute" : `${n(w.windowMs / 1000)} s`;
  const lowered = w.allowed !== undefined && w.allowed < w.quota
    ? ` (lowered to ${n(w.allowed)} after a 429)`
    : "";
  return `${n(w.inWindow)} requests in the last ${span}, of ${n(w.quota)}${lowered}`;
}

/**
 * What the run waits for now, in words (undefined: nothing in particular): the rate
 * window, the pause after a 429, or a retry.
 */
export function waitingText(p: Progress): string | undefined {
  const w = p.window;
  const inS = (ms: number | undefined) =>
    ms === undefined ? "" : `: next request in ${Math.max(1, Math.ceil(ms / 1000))} s`;
  if (w.waitingFor === "window" && w.quota !== undefined) {
    const span = w.windowMs === 60_000 ? "min" : `${n(w.windowMs / 1000)} s`;
    return `waiting for the rate window (${n(w.allowed ?? w.quota)}/${span})${inS(w.nextInMs)}`;
  }
  if (w.waitingFor === "pause") return `paused after a 429 (too many requests)${inS(w.nextInMs)}`;
  const r = p.retrying;
  if (r) {
    return `retrying ${r.resource} (attempt ${r.attempt} of ${r.attempts}) in ${
      Math.ceil(r.inSeconds)
    } s: ${r.reason}`;
  }
  return undefined;
}

/**
 * The progress table: a header (requests, the rate window, retries), what the run waits
 * for, then rows, pages and requests per resource. `maxLines` (a terminal's height): when
 * the table does not fit, only the resources that made requests are shown, the busiest
 * first, and a line counts the others.
 */
export function formatProgress(p: Progress, maxLines = Infinity): string[] {
  const w = Math.max(8, ...p.resources.map((r) => r.resource.length));
  const lines = [
    `${p.seconds.toFixed(1)} s  ${n(p.requests)} requests  ${windowText(p)}  ` +
    `${n(p.retries)} retries  ${n(p.throttled)} throttled (429)`,
  ];
  const waiting = waitingText(p);
  if (waiting) lines.push(waiting);
  lines.push(
    `${pad("resource", w)}  ${pad("rows", 9, true)}  ${pad("pages", 7, true)}  ${
      pad("requests", 8, true)
    }`,
  );
  const row = (r: Progress["resources"][number]) =>
    `${pad(r.resource, w)}  ${pad(r.rows, 9, true)}  ${pad(r.pages, 7, true)}  ${
      pad(r.requests, 8, true)
    }`;
  if (lines.length + p.resources.length <= maxLines) return [...lines, ...p.resources.map(row)];
  // compact: the resources that made requests, busiest first, as many as fit
  const room = Math.max(1, maxLines - lines.length - 1);
  const busy = p.resources.filter((r) => r.requests > 0).sort((a, b) => b.requests - a.requests);
  const shown = busy.slice(0, room);
  const others = p.resources.length - shown.length;
  return [
    ...lines,
    ...shown.map(row),
    ...(others > 0 ? [`… ${others} more resource(s) (a taller terminal shows them all)`] : []),
  ];
}

/**
 * One line for logs: `[12.0 s] 340 requests, 340 requests in the last minute, of 1,500;
 * 0 retries, 0 throttled; rows: tasks 1200 …`, and what the run waits for, if anything.
 */
export function formatProgressLine(p: Progress): string {
  const rows = p.resources.filter((r) => r.rows > 0).map((r) => `${r.resource} ${r.rows}`).join(
    ", ",
  );
  const waiting = waitingText(p);
  return `[${p.seconds.toFixed(1)} s] ${n(p.requests)} requests, ${windowText(p)}; ` +
    `${n(p.retries)} retries, ${n(p.throttled)} throttled; rows: ${rows || "none yet"}` +
    (waiting ? `; ${waiting}` : "");
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
  readonly #height: () => number;

  /**
   * Creates a reporter writing to `out` (stderr by default); `height` gives the
   * terminal's rows (the table turns compact when it would not fit).
   */
  constructor(
    verbosity: Verbosity,
    terminal: boolean = Deno.stderr.isTerminal(),
    logEverySeconds = 5,
    out: { writeSync(p: Uint8Array): number } = Deno.stderr,
    height: () => number = terminalHeight,
  ) {
    this.#height = height;
    this.#out = out;
    this.#verbosity = verbosity;
    this.#terminal = terminal && verbosity !== "verbose";
    this.#logEvery = verbosity === "verbose" ? 1 : logEverySeconds;
  }

  /** Receives a snapshot. */
  update = (p: Progress): void => {
    if (this.#verbosity === "quiet") return;
    if (this.#terminal) {
      // one line less than the terminal: the cursor's line, so nothing scrolls
      const lines = formatProgress(p, Math.max(4, this.#height() - 1));
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

/** The rows of the terminal on stderr (24 when it cannot be read). */
function terminalHeight(): number {
  try {
    return Deno.consoleSize().rows || 24;
  } catch {
    return 24;
  }
}
