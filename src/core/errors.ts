/**
 * The one error base class of restpipe: every error a user can meet carries the exit
 * code the command line returns for it (2: bad input or configuration, 1: a runtime
 * failure, 75: a temporary one) and the words it is reported with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RestpipeError } from "./errors.ts";
 * class NoSuchThing extends RestpipeError {
 *   constructor(what: string) {
 *     super(`no such thing: ${what}`, { exitCode: 2 });
 *   }
 * }
 * const e = new NoSuchThing("x");
 * assert.deepEqual(e.exitCode, 2);
 * assert.deepEqual(e.report(), "no such thing: x");
 * ```
 *
 * @module
 */

/**
 * The exit codes of an error: 2 for bad input or configuration, 1 for a runtime failure
 * that retrying will not fix, 75 for a temporary one (see `exit.ts`).
 */
export type ExitCode = 1 | 2 | 75;

/** Options for {@linkcode RestpipeError}. */
export interface RestpipeErrorOptions extends ErrorOptions {
  /** The command line's exit code for this error (default 1). */
  exitCode?: ExitCode;
  /** Words put before the message when the command line reports it. */
  prefix?: string;
}

/** An error a user can act on: its message says what went wrong and what to do. */
export class RestpipeError extends Error {
  /** The command line's exit code for this error. */
  readonly exitCode: ExitCode;
  /** Words put before the message when it is reported. */
  readonly prefix: string;

  /** Creates the error. */
  constructor(message: string, options: RestpipeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
    this.prefix = options.prefix ?? "";
  }

  /** The message as the command line prints it. */
  report(): string {
    return this.prefix + this.message;
  }
}

/** The message of any thrown value. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
