/**
 * The stored state of a pipeline, one schema for all of it, validated when it is read:
 * incremental cursors per resource and partition, the boundary records at each cursor,
 * and when each `refresh_every` listing last ran to the end. Other keys a state holds
 * are kept as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readState } from "./state.ts";
 * const state = readState({ incremental: { tasks: { "1204": "2024-05-01T10:00:00Z" } } });
 * assert.deepEqual(state.incremental.tasks["1204"], "2024-05-01T10:00:00Z");
 * assert.deepEqual(state.refreshed, {});
 * ```
 *
 * @module
 */
import * as v from "valibot";
import type { Infer } from "../core/schemas.ts";
import { RestpipeError } from "../core/errors.ts";
import { STATE_FORMAT, VERSION } from "../core/version.ts";

const text = v.string();

/**
 * Stored cursors: resource → partition → cursor value.
 *
 * @ignore
 */
export const CursorsSchema = v.record(v.string(), v.record(v.string(), text));

/**
 * Records at a partition's cursor (within its lag) when it last moved, key → cursor
 * value: resource → partition → keys. The next listing returns them again (the lower
 * bound is inclusive and lagged); one whose cursor value is unchanged needs no child
 * request, as its children were loaded with it.
 *
 * @ignore
 */
export const BoundariesSchema = v.record(
  v.string(),
  v.record(v.string(), v.record(v.string(), text)),
);

/** When each `refresh_every` listing last ran to the end: `resource` or `resource < parent` → ISO instant. */
export const RefreshedSchema = v.record(v.string(), text);

/**
 * The parent records each `refresh_every` listing has listed to the end since its clock
 * last moved: the same keys as `refreshed` → parent keys. A parent not among them is new,
 * and is listed at the next run whatever the clock says.
 *
 * @ignore
 */
export const RefreshedParentsSchema = v.record(v.string(), v.array(text));

/**
 * What the `refresh_on` fields of each parent record were at the last complete listing
 * under it (a hash): the same keys as `refreshed` → parent key → hash.
 *
 * @ignore
 */
export const RefreshedMarksSchema = v.record(v.string(), v.record(v.string(), text));

/**
 * A pipeline's state as stored with each load.
 *
 * @ignore
 */
export const StoredStateSchema = v.looseObject({
  /** The restpipe that wrote the state, and the format of what it stores (absent: 0). */
  restpipe: v.optional(v.object({ version: text, format: v.number() })),
  incremental: v.optional(CursorsSchema, {}),
  incremental_boundary: v.optional(BoundariesSchema, {}),
  refreshed: v.optional(RefreshedSchema, {}),
  refreshed_parents: v.optional(RefreshedParentsSchema, {}),
  /** The `refresh_on` values of each parent record at its last complete listing (a hash). */
  refreshed_marks: v.optional(RefreshedMarksSchema),
  /**
   * The resources this database has loaded in full (a new one is backfilled over its
   * parents' existing records first); absent in databases older than it.
   */
  loaded_resources: v.optional(v.array(text)),
  /**
   * What each loaded resource's rows were written by: primary key, disposition and
   * incremental cursor. A run whose spec changes one of them is refused until a full
   * refresh of that resource rebuilds its table.
   */
  /**
   * Change feeds: resource → partition → the token the next run reads from, and when
   * the partition was last listed whole (the feed's safety net, `relist_every`).
   */
  feeds: v.optional(
    v.record(
      v.string(),
      v.record(v.string(), v.object({ token: text, relisted_at: text })),
    ),
  ),
  shapes: v.optional(
    v.record(
      v.string(),
      v.object({
        primary_key: v.array(text),
        write_disposition: text,
        cursor: v.optional(text),
        /** The fields the rows were fetched with (absent before 0.2.0: not known). */
        fields: v.optional(v.array(text)),
      }),
    ),
  ),
});

/** Stored cursors: resource → partition → cursor value. */
export type Cursors = Infer<typeof CursorsSchema>;
/** Boundary records: resource → partition → key → cursor value. */
export type Boundaries = Infer<typeof BoundariesSchema>;
/** A pipeline's state as stored with each load. */
export type StoredState = Infer<typeof StoredStateSchema>;
/** The parent records each `refresh_every` listing has listed: clock key → parent keys. */
export type RefreshedParents = Infer<typeof RefreshedParentsSchema>;
/** The `refresh_on` hash of each parent record: clock key → parent key → hash. */
export type RefreshedMarks = Infer<typeof RefreshedMarksSchema>;

/** A stored state that does not have the state's shape (exit code 1). */
export class StateError extends RestpipeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { exitCode: 1 });
  }
}

/** A dataset written by a newer restpipe than this one (exit code 2). */
export class NewerDatasetError extends RestpipeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

/**
 * Refuses a state written in a newer format than this restpipe's: it could not keep what
 * the newer one stores. An older state (or one without a version) is upgraded by the run.
 */
export function checkStateFormat(state: unknown, dataset: string): void {
  const parsed = v.safeParse(
    v.looseObject({ restpipe: StoredStateSchema.entries.restpipe }),
    state,
  );
  const stamp = parsed.success ? parsed.output.restpipe : undefined;
  if (stamp && stamp.format > STATE_FORMAT) {
    throw new NewerDatasetError(
      `dataset ${dataset} was written by restpipe ${stamp.version} (state format ` +
        `${stamp.format}), newer than this restpipe ${VERSION} (format ${STATE_FORMAT}): ` +
        `run restpipe ${stamp.version} or later on it, or load into another database ` +
        `(--db DIR) or dataset`,
    );
  }
}

/**
 * Validates a state as read from the destination. A damaged state is an error that
 * says what is wrong, unless `lenient` (a full refresh, which rebuilds it), when it
 * starts empty.
 */
export function readState(raw: unknown, options: { lenient?: boolean } = {}): StoredState {
  const parsed = v.safeParse(StoredStateSchema, raw ?? {});
  if (parsed.success) return parsed.output;
  if (options.lenient) return v.parse(StoredStateSchema, {});
  const issue = parsed.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
  throw new StateError(
    `the stored pipeline state is damaged${path ? ` at ${path}` : ""}: ${issue.message}; ` +
      `run again with --full-refresh to rebuild it`,
  );
}
