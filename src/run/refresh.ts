/**
 * Refresh clocks: a listing with `refresh_every` runs again only when its time has
 * come; the clock of each resource's listings under each parent resource moves when
 * they all ran to the end. A parent record that has never been listed (a project made
 * since the last refresh) is listed at the next run whatever the clock says: the clock
 * keeps the parent records it has seen listed to the end. So is a parent record whose
 * `refresh_on` fields differ from what they were at its last complete listing (a project
 * whose list of custom field settings changed): the clock keeps a hash of them.
 *
 * @module
 */
import type { Plan, PlannedResource } from "../plan/plan.ts";
import type { ApiRecord } from "../extract/observer.ts";
import type { RefreshedMarks, RefreshedParents } from "./state.ts";
import { getPath } from "../core/paths.ts";
import { hash53 } from "../core/keys.ts";

/**
 * The hash of a parent record's `refresh_on` values: the same for equal values whatever
 * the order of an object's keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refreshMark } from "./refresh.ts";
 * const a = refreshMark({ s: [{ gid: "1", is_important: true }] }, ["s"]);
 * assert.equal(a, refreshMark({ s: [{ is_important: true, gid: "1" }] }, ["s"]));
 * assert.notEqual(a, refreshMark({ s: [{ gid: "1", is_important: false }] }, ["s"]));
 * ```
 */
export function refreshMark(record: ApiRecord, fields: readonly string[]): string {
  const sorted = (x: unknown): unknown =>
    Array.isArray(x) ? x.map(sorted) : x !== null && typeof x === "object"
      ? Object.fromEntries(
        Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a < b ? -1 : 1)
          .map(([k, v]) => [k, sorted(v)]),
      )
      : x ?? null;
  return hash53(JSON.stringify(fields.map((f) => sorted(getPath(record, f))))).toString(36);
}

/** The key of a resource's listings under one parent resource in the state's `refreshed`. */
export function refreshKey(resource: string, parent: string): string {
  return parent === "" ? resource : `${resource} < ${parent}`;
}

/** The refresh clocks of one run. */
export class RefreshClocks {
  readonly #last: Readonly<Record<string, string>>;
  readonly #seen: Readonly<RefreshedParents>;
  readonly #now: Date;
  readonly #ignore: boolean;
  /** The stored parent records as sets, per clock key (made when first asked). */
  readonly #seenSets = new Map<string, ReadonlySet<string>>();
  /** Parent records listed in this run, per clock key. */
  readonly #listed = new Map<string, Set<string>>();
  /** The stored `refresh_on` hashes. */
  readonly #marks: Readonly<RefreshedMarks>;
  /** The `refresh_on` hashes of the parent records listed in this run, per clock key. */
  readonly #listedMarks = new Map<string, Map<string, string>>();

  /**
   * `last`: the stored clocks; `seen`: the parent records each clock has seen listed;
   * `ignore`: every listing is due (a full refresh); `marks`: the stored `refresh_on`
   * hashes.
   */
  constructor(
    last: Readonly<Record<string, string>>,
    now: Date,
    ignore = false,
    seen: Readonly<RefreshedParents> = {},
    marks: Readonly<RefreshedMarks> = {},
  ) {
    this.#marks = marks;
    this.#last = last;
    this.#seen = seen;
    this.#now = now;
    this.#ignore = ignore;
  }

  /** Has this clock's time come (or has it never run)? */
  #clockDue(resource: PlannedResource, parent: string): boolean {
    const every = resource.refreshEvery.get(parent);
    if (every === undefined || !resource.load || this.#ignore) return true;
    const last = Date.parse(this.#last[refreshKey(resource.name, parent)] ?? "");
    return Number.isNaN(last) || this.#now.getTime() - last >= every;
  }

  /**
   * Is this resource's listing under this parent record (of resource `parent`, `""`:
   * none) due in this run? Yes when its clock's time has come, for a parent record the
   * clock has not seen listed, and for one whose `refresh_on` fields (in `record`, the
   * parent record) differ from those of its last complete listing. Each listing found due
   * is remembered (see {@linkcode next}).
   */
  isDue(
    resource: PlannedResource,
    parent: string,
    parentKey = "",
    record?: ApiRecord,
  ): boolean {
    const key = refreshKey(resource.name, parent);
    const on = resource.refreshOn.get(parent);
    const mark = on && record ? refreshMark(record, on) : undefined;
    const due = this.#clockDue(resource, parent) ||
      !this.#seenOf(key).has(parentKey) ||
      (mark !== undefined && this.#marks[key]?.[parentKey] !== mark);
    if (due && resource.refreshEvery.has(parent)) {
      let listed = this.#listed.get(key);
      if (!listed) this.#listed.set(key, listed = new Set());
      listed.add(parentKey);
      if (mark !== undefined) {
        let marks = this.#listedMarks.get(key);
        if (!marks) this.#listedMarks.set(key, marks = new Map());
        marks.set(parentKey, mark);
      }
    }
    return due;
  }

  /** The parent records a clock has seen listed (a set: asked once per parent record). */
  #seenOf(key: string): ReadonlySet<string> {
    let seen = this.#seenSets.get(key);
    if (!seen) this.#seenSets.set(key, seen = new Set(this.#seen[key] ?? []));
    return seen;
  }

  /** The clocks to store: those of the listings that ran to the end (`ran`) move to now. */
  next(plan: Plan, ran: (resource: PlannedResource) => boolean): Record<string, string> {
    const next = { ...this.#last };
    for (const r of plan.resources.values()) {
      if (!r.load) continue;
      for (const parent of r.refreshEvery.keys()) {
        if (ran(r)) next[refreshKey(r.name, parent)] = this.#now.toISOString();
      }
    }
    return next;
  }

  /**
   * The parent records to store with the clocks: when a clock moves, those listed to the
   * end in this run; else those seen before and those newly listed to the end
   * (`completed`: the parent keys whose listings of a resource all completed).
   */
  nextSeen(
    plan: Plan,
    ran: (resource: PlannedResource) => boolean,
    completed: (resource: string) => ReadonlySet<string>,
  ): RefreshedParents {
    const next: RefreshedParents = { ...this.#seen };
    for (const r of plan.resources.values()) {
      if (!r.load) continue;
      for (const parent of r.refreshEvery.keys()) {
        const key = refreshKey(r.name, parent);
        const done = completed(r.name);
        const listed = [...this.#listed.get(key) ?? []].filter((k) => done.has(k));
        const kept = ran(r) ? [] : this.#seen[key] ?? [];
        next[key] = [...new Set([...kept, ...listed])].sort();
      }
    }
    return next;
  }

  /**
   * The `refresh_on` hashes to store: those of the parent records listed to the end in
   * this run over the stored ones (only these when the clock moves: a parent gone from
   * the API drops out), as {@linkcode nextSeen} keeps the parent records.
   */
  nextMarks(
    plan: Plan,
    ran: (resource: PlannedResource) => boolean,
    completed: (resource: string) => ReadonlySet<string>,
  ): RefreshedMarks {
    const next: RefreshedMarks = {};
    for (const r of plan.resources.values()) {
      if (!r.load) continue;
      for (const parent of r.refreshOn.keys()) {
        if (!r.refreshEvery.has(parent)) continue;
        const key = refreshKey(r.name, parent);
        const done = completed(r.name);
        const marks: Record<string, string> = ran(r) ? {} : { ...this.#marks[key] };
        for (const [k, mark] of this.#listedMarks.get(key) ?? []) {
          if (done.has(k)) marks[k] = mark;
        }
        next[key] = marks;
      }
    }
    return next;
  }
}
