/**
 * Errors in a spec file, each with its file, line, column and key path.
 *
 * @module
 */

/** A path of keys into the spec document, e.g. `["resources", "tasks", "path"]`. */
import { RestpipeError } from "../core/errors.ts";
/**
 * Where a value sits in a spec: keys and list indexes from the root (`["resources", "tasks", "path"]`).
 */
export type KeyPath = readonly (string | number)[];

/** One problem in a spec, located in its file. */
export interface SpecIssue {
  /** Where in the document (keys from the root). */
  path: KeyPath;
  /** What is wrong, in words a user can act on. */
  message: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  column?: number;
}

/** Formats a key path the way messages show it: `resources.tasks.fields[2]`. */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? key : `.${key}`;
  }
  return out;
}

/** Every problem found in a spec file; thrown by `loadSpec` and the planner. */
export class SpecError extends RestpipeError {
  /** The spec file, as the user named it. */
  readonly file: string;
  /** The problems, in document order. */
  readonly issues: SpecIssue[];

  /** Creates the error from its issues (sorted by position). */
  constructor(file: string, issues: SpecIssue[]) {
    const sorted = [...issues].sort((a, b) =>
      (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)
    );
    super(sorted.map((i) => formatIssue(file, i)).join("\n"), { exitCode: 2 });
    this.file = file;
    this.issues = sorted;
  }
}

/** `file:line:column key.path: message`. */
export function formatIssue(file: string, issue: SpecIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
  const path = formatPath(issue.path);
  return `${where} ${path === "" ? "" : `${path}: `}${issue.message}`;
}
