/**
 * What each write disposition deletes, as data. A commit finishes each root table
 * (with its child tables) by applying a list of rules, decided here from the
 * disposition and the run's evidence, without SQL: a dialect (`sql_rules.ts` for
 * Postgres) renders each rule, so a second SQL dialect would render the same rules
 * without copying the decisions.
 *
 * The run's rows are already in their tables; the rules name the older rows they
 * replace or the API no longer has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { familyRules } from "./rules.ts";
 * const rules = familyRules(
 *   { table: "tasks", resource: "tasks", disposition: "merge", keyColumns: ["id"] },
 *   { columns: ["id", "name"] },
 * );
 * assert.deepEqual(rules.kind, "rows");
 * assert.deepEqual(rules.kind === "rows" && rules.rules.map((r) => r.kind), ["dedupe", "same_key"]);
 * ```
 *
 * @module
 */
import { SYSTEM_COLUMNS as S } from "../normalize/schema.ts";
import type { RootWrite } from "./destination.ts";

/** A rule that picks rows to delete from a root table (and their child rows). */
export type DeleteRule =
  /** The same key twice in this load: all but the last record (the highest row id) go. */
  | { kind: "dedupe" }
  /** replace: every older row goes. */
  | { kind: "all_older" }
  /** merge (and a scoped replace): older rows with a key this load wrote again go. */
  | { kind: "same_key" }
  /** Older rows of the parents whose listings all completed go (a partial resource). */
  | { kind: "within_parents"; parents: readonly string[] }
  /** reconcile: older rows whose key a complete key listing no longer has go. */
  | { kind: "reconcile"; keys: readonly string[] }
  /** reconcile with verify: older rows of the keys the API said are gone (404, 410) go. */
  | { kind: "verified_gone"; keys: readonly string[] }
  /** Rows whose parent record (a row of this parent table) the commit deleted go. */
  | { kind: "cascade"; parentTable: string }
  /** A recursive resource: rows whose parent, a row of this same table, went, to any depth. */
  | { kind: "cascade_recursive" };

/** A rule of scd2 (history): versions close instead of being deleted. */
export type HistoryRule =
  /** The same key twice in this load: the later record wins. */
  | { kind: "dedupe" }
  /** Every key this load listed, unchanged ones included (before any new row is dropped). */
  | { kind: "note_listed" }
  /** A new row whose content equals its key's current version: dropped, nothing changed. */
  | { kind: "drop_unchanged" }
  /** A changed record: its current version closes as the new one opens. */
  | { kind: "close_changed" }
  /** A current version whose key a complete listing no longer has closes (all or within parents). */
  | { kind: "retire_absent"; within: "all" | readonly string[] }
  /** A current version whose key reconcile no longer lists closes. */
  | { kind: "retire_unlisted"; keys: readonly string[] }
  /** This load's rows become the current versions. */
  | { kind: "open_new" };

/** History rules that pick new rows to drop; the others update versions after the drops. */
export const HISTORY_PICKS: ReadonlySet<HistoryRule["kind"]> = new Set([
  "dedupe",
  "note_listed",
  "drop_unchanged",
]);

/** How one root table is finished. */
export type FamilyRules =
  | {
    kind: "rows";
    /** The key columns the rules compare on (none: the table has no usable key). */
    keys: readonly string[];
    rules: DeleteRule[];
    /** Keep the keys deleted (no row left), for the child resources' cascades and the state. */
    trackDeleted: boolean;
  }
  | { kind: "history"; keys: readonly string[]; rules: HistoryRule[] };

/** What the table looks like now, beside the run's evidence in the write. */
export interface TableFacts {
  /** The root table's columns (a table that never received a row lacks its key columns). */
  columns: readonly string[];
  /** Rebuild: every table becomes exactly this run's rows (scd2 keeps its history). */
  fullRefresh?: boolean;
}

/** The rules that finish a root table, from its write and the table's facts. */
export function familyRules(root: RootWrite, facts: TableFacts): FamilyRules {
  const columns = new Set(facts.columns);
  // a table that never received a row has no key columns yet (and needs no deduplication)
  const keys = root.keyColumns.every((k) => columns.has(k)) ? root.keyColumns : [];
  if (root.disposition === "scd2") {
    return { kind: "history", keys, rules: historyRules(root, keys) };
  }
  const disposition = facts.fullRefresh ? "replace" : root.disposition;
  const rules: DeleteRule[] = [];
  const keyed = keys.length > 0;
  if (keyed && disposition !== "append") rules.push({ kind: "dedupe" });
  const scoped = root.refreshedParents !== undefined;
  if (disposition === "replace" && !scoped) rules.push({ kind: "all_older" });
  else if (disposition !== "append" && keyed) rules.push({ kind: "same_key" });
  if (root.refreshedParents && root.refreshedParents.length > 0 && columns.has(S.parentKey)) {
    rules.push({ kind: "within_parents", parents: root.refreshedParents });
  }
  if (root.currentKeys && keyed) rules.push({ kind: "reconcile", keys: root.currentKeys });
  if (root.goneKeys && root.goneKeys.length > 0 && keyed) {
    rules.push({ kind: "verified_gone", keys: root.goneKeys });
  }
  // rows whose parent record was deleted (a recursive resource's own deletions cascade
  // once more below, as its parent is then itself)
  for (const parentTable of root.parentTables ?? []) rules.push({ kind: "cascade", parentTable });
  if (root.parentTables?.includes(root.table) && keyed) rules.push({ kind: "cascade_recursive" });
  return { kind: "rows", keys, rules, trackDeleted: keyed };
}

/**
 * scd2 (history): each record's versions are rows with `_dlt_valid_from` and
 * `_dlt_valid_to` (null while current). Nothing is deleted but unchanged new rows, so
 * child resources see no deletions from an scd2 parent.
 */
function historyRules(root: RootWrite, keys: readonly string[]): HistoryRule[] {
  if (keys.length === 0) return [{ kind: "open_new" }];
  const rules: HistoryRule[] = [
    { kind: "dedupe" },
    { kind: "note_listed" },
    { kind: "drop_unchanged" },
    { kind: "close_changed" },
  ];
  // gone from a complete listing, within the parents listed whole
  const within = root.refreshedParents === undefined ? "all" : root.refreshedParents;
  if (root.retireAbsent && (within === "all" || within.length > 0)) {
    rules.push({ kind: "retire_absent", within });
  }
  if (root.currentKeys) rules.push({ kind: "retire_unlisted", keys: root.currentKeys });
  rules.push({ kind: "open_new" });
  return rules;
}
