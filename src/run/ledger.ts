/**
 * The run ledger: the one place that decides, from what extraction saw, what a commit
 * may delete and where each incremental cursor moves. Extraction reports events
 * (a chain completed, a chain was incomplete, keys were listed); the ledger owns
 * partitions, cursor order, refreshed parents, complete key listings and the deletion
 * rules, and turns them into the destination's writes and the next state. It does no
 * I/O.
 *
 * The rules, evidence before deletion:
 * - a parent is *refreshed* for a child resource when every chain of that child under
 *   it completed (no skip, no failure, no `max_pages` cap);
 * - a resource is *incomplete* when one of its chains, or one of its ancestors', was
 *   not complete: its `replace` then only replaces within refreshed parents, and
 *   `reconcile` deletes nothing;
 * - an incremental partition's cursor moves only when its chain, and every chain below
 *   the records it returned, completed;
 * - a partition whose parent record was deleted in the commit loses its cursor.
 *
 * @module
 */
import type { Plan, PlannedResource } from "../plan/plan.ts";
import type { RootWrite } from "../load/destination.ts";
import type { ChainPosition } from "../extract/observer.ts";
import { partitionUnder } from "./cursors.ts";
import type { Boundaries, Cursors } from "./state.ts";

/** What one run saw, and what it may therefore write. */
export class RunLedger {
  readonly #plan: Plan;
  readonly #cursors = new Map<string, Map<string, string>>();
  readonly #boundaries = new Map<string, Map<string, Record<string, string>>>();
  readonly #refreshed = new Map<string, Set<string>>();
  readonly #failedParents = new Map<string, Set<string>>();
  readonly #tainted = new Map<string, Set<string>>();
  readonly #incomplete = new Set<string>();
  /** Resources with listings that were not due, and the parent resources they sit under. */
  readonly #deferred = new Map<string, Set<string>>();
  readonly #keys = new Map<string, { keys: Set<string>; complete: boolean }>();

  /** Starts an empty ledger for a plan. */
  constructor(plan: Plan) {
    this.#plan = plan;
    for (const name of plan.order) {
      const r = plan.resources.get(name)!;
      if (r.reconcile) this.#keys.set(name, { keys: new Set(), complete: true });
      this.#refreshed.set(name, new Set());
      this.#failedParents.set(name, new Set());
      this.#tainted.set(name, new Set());
      this.#cursors.set(name, new Map());
      this.#boundaries.set(name, new Map());
    }
  }

  /**
   * A chain read its listing to the end; `cursor` is the greatest cursor value it saw,
   * `boundary` the records at that cursor (within the lag), key → cursor value.
   */
  chainCompleted(
    at: ChainPosition,
    cursor: string | undefined,
    boundary?: Record<string, string>,
  ): void {
    if (cursor !== undefined) {
      this.#cursors.get(at.resource)!.set(at.partition, cursor);
      if (boundary) this.#boundaries.get(at.resource)!.set(at.partition, boundary);
    }
    this.#refreshed.get(at.resource)!.add(at.parentKey);
  }

  /** A chain was skipped, failed or capped: nothing it would have covered may go. */
  chainIncomplete(at: ChainPosition): void {
    this.#incomplete.add(at.resource);
    this.#failedParents.get(at.resource)!.add(at.parentKey);
    if (this.#plan.resources.get(at.resource)!.incremental) {
      this.#tainted.get(at.resource)!.add(at.partition);
    }
    for (const a of at.ancestors) {
      if (this.#plan.resources.get(a.resource)!.incremental) {
        this.#tainted.get(a.resource)!.add(a.partition);
      }
    }
  }

  /**
   * A resource's listings under some parent were not due (`refresh_every`): nothing they
   * would have covered may go, as for an incomplete listing, but it is no failure.
   */
  chainsDeferred(resource: string, parentResource = ""): void {
    let under = this.#deferred.get(resource);
    if (!under) this.#deferred.set(resource, under = new Set());
    under.add(parentResource);
  }

  /** Were some listings of this resource deferred in this run? */
  wasDeferred(resource: string): boolean {
    return this.#deferred.has(resource);
  }

  /** The parent resources under which some of this resource's listings were not due. */
  deferredUnder(resource: string): string[] {
    return [...this.#deferred.get(resource) ?? []].filter((p) => p !== "").sort();
  }

  /** A key-only listing of a reconciled resource returned these keys (`complete`: to its end). */
  keysListed(resource: string, keys: Iterable<string>, complete: boolean): void {
    const into = this.#keys.get(resource)!;
    for (const k of keys) into.keys.add(k);
    if (!complete) into.complete = false;
  }

  /** The keys the key listings of a reconciled resource returned, and whether all ran to the end. */
  keysOf(resource: string): { keys: ReadonlySet<string>; complete: boolean } | undefined {
    return this.#keys.get(resource);
  }

  /** Did some chain of this resource, or of an ancestor, not complete or not run (deferred)? */
  isIncomplete(resource: PlannedResource): boolean {
    return [resource.name, ...resource.ancestors].some((a) =>
      this.#incomplete.has(a) || this.#deferred.has(a)
    );
  }

  /** Did some chain of this resource itself not complete? */
  hasIncompleteChain(resource: string): boolean {
    return this.#incomplete.has(resource);
  }

  /** The parent keys whose every chain of `resource` completed. */
  refreshedParents(resource: string): string[] {
    const failed = this.#failedParents.get(resource)!;
    return [...this.#refreshed.get(resource)!].filter((k) => !failed.has(k));
  }

  /** The cursors that move in this run, per resource (tainted partitions left out). */
  movedCursors(resource: string): Map<string, string> {
    const tainted = this.#tainted.get(resource)!;
    return new Map([...this.#cursors.get(resource)!].filter(([p]) => !tainted.has(p)));
  }

  /**
   * What the commit may delete for one resource: rows are replaced within the parents
   * whose listings all completed (when the resource fans out under an incremental
   * ancestor, or when a `replace` saw some listing on its way skipped or capped), and
   * keys are reconciled only from complete key listings.
   */
  writesFor(r: PlannedResource, fullRefresh: boolean): Pick<
    RootWrite,
    "refreshedParents" | "currentKeys"
  > {
    const incomplete = this.isIncomplete(r);
    // scd2 closes what a replace would delete: it narrows to refreshed parents alike
    const replaces = r.writeDisposition === "replace" || r.writeDisposition === "scd2" ||
      fullRefresh;
    const refreshed = r.parents.length > 0 ? this.refreshedParents(r.name) : [];
    let refreshedParents: string[] | undefined;
    if (r.partial && !fullRefresh) refreshedParents = refreshed;
    else if (replaces && incomplete) refreshedParents = refreshed;
    const listed = this.#keys.get(r.name);
    return {
      refreshedParents,
      // a resource that verifies its deletions deletes only the keys found gone
      currentKeys: listed?.complete && !incomplete && !r.reconcileVerify
        ? [...listed.keys]
        : undefined,
    };
  }

  /**
   * The cursors to store: loaded resources' partitions move on, others keep theirs, and
   * a partition whose parent record was deleted (`deleted`: keys per parent resource)
   * starts again from scratch.
   */
  nextCursors(stored: Cursors, deleted: (parent: string) => ReadonlySet<string>): Cursors {
    return this.#next(stored, (name) => this.movedCursors(name), deleted);
  }

  /** The boundary records to store, partition by partition as {@linkcode nextCursors}. */
  nextBoundaries(
    stored: Boundaries,
    deleted: (parent: string) => ReadonlySet<string>,
  ): Boundaries {
    return this.#next(stored, (name) => {
      const moved = this.movedCursors(name);
      return new Map([...this.#boundaries.get(name)!].filter(([p]) => moved.has(p)));
    }, deleted);
  }

  #next<T>(
    stored: Record<string, Record<string, T>>,
    movedOf: (resource: string) => Map<string, T>,
    deleted: (parent: string) => ReadonlySet<string>,
  ): Record<string, Record<string, T>> {
    const cursors: Record<string, Record<string, T>> = { ...stored };
    for (const name of this.#plan.order) {
      const r = this.#plan.resources.get(name)!;
      if (!r.load || !r.incremental) continue;
      const moved = movedOf(name);
      if (moved.size > 0) cursors[name] = { ...cursors[name], ...Object.fromEntries(moved) };
    }
    for (const [name, partitions] of Object.entries(cursors)) {
      const r = this.#plan.resources.get(name);
      if (!r) continue;
      const gone = new Set(
        r.parents.filter((p) => this.#plan.resources.get(p)!.load).flatMap((p) => [
          ...deleted(p),
        ]),
      );
      if (gone.size === 0) continue;
      cursors[name] = Object.fromEntries(
        Object.entries(partitions).filter(([p]) => !partitionUnder(p, gone)),
      );
    }
    return cursors;
  }
}
