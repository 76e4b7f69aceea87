/**
 * The incremental side of one run: it reads the stored state, answers extraction
 * (where each listing starts, which records' children need no request, which
 * listings are due, which records' watched values moved), keeps what extraction saw in
 * the {@linkcode RunLedger}, and gives the commit its writes and the state to store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IncrementalRun } from "./incremental.ts";
 * import { buildPlan } from "../plan/plan.ts";
 * import { parseSpec } from "../spec/load.ts";
 *
 * const { spec } = parseSpec(
 *   `pipeline: p
 * dataset: p_data
 * source: { base_url: "https://api.example.com" }
 * resources:
 *   items:
 *     path: /items
 *     primary_key: id
 *     write_disposition: merge
 *     params: { since: "{incremental.start}" }
 *     incremental: { cursor: updated_at, initial: "2024-01-01T00:00:00Z" }
 * `,
 *   "spec.yaml",
 * );
 * const plan = buildPlan(spec);
 * const run = new IncrementalRun(plan, { incremental: { items: { "": "2024-05-01T00:00:00Z" } } });
 * const at = { resource: "items", parentKey: "", partition: "", ancestors: [] };
 * const listing = run.listing(at, { again: false, listsKeys: false });
 * assert.deepEqual(listing.start, "2024-05-01T00:00:00Z");
 * listing.page([{ id: 1, updated_at: "2024-06-01T00:00:00Z" }]);
 * listing.completed();
 * assert.deepEqual(run.nextState(() => new Set()).incremental.items[""], "2024-06-01T00:00:00Z");
 * ```
 *
 * @module
 */
import { hasFeed, type Plan, type PlannedResource } from "../plan/plan.ts";
import type { RootWrite } from "../load/destination.ts";
import type {
  ApiRecord,
  ChainPosition,
  FeedTracker,
  Focus,
  KeyListingTracker,
  ListingTracker,
  RunObserver,
} from "../extract/observer.ts";
import { keyOf } from "../extract/records.ts";
import { compareCursors, cursorValue, lagged, nearCursor } from "./cursors.ts";
import { RunLedger } from "./ledger.ts";
import { STATE_FORMAT, VERSION } from "../core/version.ts";
import { RefreshClocks } from "./refresh.ts";
import { readState, type StoredState } from "./state.ts";
import { type StoredOwner, type StoredParents, type Watched, watchedMoved } from "./watch.ts";
import type { Candidate } from "../extract/verify.ts";
import { type FeedFigures, Feeds } from "./feeds.ts";

/** Options for {@linkcode IncrementalRun}. */
export interface IncrementalRunOptions {
  /** Ignore cursors, boundaries and refresh clocks: every table is rebuilt. */
  fullRefresh?: boolean;
  /** The run's start: refresh clocks compare with it and move to it. */
  now?: Date;
  /** Stored watched values, read before the run (see `readStoredKeys`). */
  watched?: Watched;
  /**
   * The resources with a table in the stored schema: those a database older than the
   * state's `loaded_resources` has loaded (the others are new, and backfilled).
   */
  storedTables?: ReadonlySet<string>;
  /** The parents of each resource as the last completed load recorded them, when it did. */
  storedParents?: Readonly<Record<string, readonly string[] | undefined>>;
}

/** What a resource's rows are written by, as the state's `shapes` keeps it. */
function shapeOf(r: PlannedResource): NonNullable<StoredState["shapes"]>[string] {
  return {
    primary_key: r.primaryKey,
    write_disposition: r.writeDisposition,
    ...(r.incremental ? { cursor: r.incremental.cursor } : {}),
    ...(r.fields ? { fields: [...new Set(r.fields)].sort() } : {}),
  };
}

/** A resource's listing under one parent resource, as `loaded_resources` names it. */
function edgeKey(resource: string, parent: string): string {
  return `${resource} < ${parent}`;
}

/**
 * The parent edges a database older than `loaded_resources` loaded: those its last load
 * recorded (`parents` per resource), and every edge of a resource it recorded none for.
 */
function edgesOf(
  recorded: Readonly<Record<string, readonly string[] | undefined>>,
  plan: Plan,
  only?: PlannedResource,
): string[] {
  const resources = only ? [only] : [...plan.resources.values()];
  return resources.flatMap((r) => (recorded[r.name] ?? r.parents).map((p) => edgeKey(r.name, p)));
}

/** No children to backfill. */
const NONE: ReadonlySet<string> = new Set();

/** Boundary records kept per listing before the ones far below the cursor are dropped. */
const BOUNDARY_PRUNE = 256;

/** The incremental side of one run (see the module's documentation). */
export class IncrementalRun implements RunObserver {
  /** What extraction saw: the evidence the commit may act on. */
  readonly ledger: RunLedger;
  readonly #plan: Plan;
  readonly #previous: StoredState;
  readonly #state: StoredState;
  readonly #clocks: RefreshClocks;
  readonly #fullRefresh: boolean;
  #watched: Watched;
  /**
   * Keys each partition's own listing returned and loaded whole (with their children),
   * per resource that lists its keys apart: a key listing need not list them again.
   */
  readonly #loadedWhole = new Map<string, Map<string, Set<string>>>();
  /** Resources loaded in full before this run. */
  readonly #loaded: ReadonlySet<string>;
  /** Per resource, its children new to the database or leading to one (see `backfill`). */
  readonly #backfill = new Map<string, ReadonlySet<string>>();
  /** Did an earlier load store anything incremental (else this is a first load)? */
  readonly #continuing: boolean;
  /** The change feeds' tokens and what they say in this run. */
  readonly #feeds: Feeds;
  /** Resources with fields their stored rows were not fetched with (see `isNew`). */
  readonly #newFields = new Set<string>();
  /** Stored records of resources that verify their deletions (see `readStoredKeys`). */
  #owners: ReadonlyMap<string, ReadonlyMap<string, StoredOwner>> = new Map();
  /** The keys each such resource found gone by asking for them (404, 410). */
  readonly #gone = new Map<string, string[]>();

  /** Starts a run from the stored state (validated here; see `readState`). */
  constructor(plan: Plan, stored: unknown, options: IncrementalRunOptions = {}) {
    this.#plan = plan;
    this.#fullRefresh = options.fullRefresh ?? false;
    this.#previous = readState(stored, { lenient: this.#fullRefresh });
    this.#state = this.#fullRefresh
      ? { ...this.#previous, incremental: {}, incremental_boundary: {} }
      : this.#previous;
    this.#clocks = new RefreshClocks(
      this.#previous.refreshed,
      options.now ?? new Date(),
      this.#fullRefresh,
      this.#previous.refreshed_parents,
      this.#previous.refreshed_marks,
    );
    this.#watched = options.watched ?? new Map();
    this.#feeds = new Feeds(this.#previous.feeds, options.now ?? new Date(), this.#fullRefresh);
    this.ledger = new RunLedger(plan);
    // what was loaded, resources and their parent edges (`child < parent`): as the state
    // says; else the resources with a stored table, with the parents the last load
    // recorded; else everything the plan names (nothing is known to be new)
    this.#loaded = new Set(
      this.#previous.loaded_resources ??
        (options.storedTables
          ? [...options.storedTables, ...edgesOf(options.storedParents ?? {}, plan)]
          : [...plan.resources.values()].flatMap((r) => [r.name, ...edgesOf({}, plan, r)])),
    );
    this.#continuing = Object.keys(this.#state.incremental).length > 0;
    // resources whose field list gained a field since their rows were loaded (or was not
    // recorded, before 0.2.0): their rows are fetched again under every parent, once
    for (const r of plan.resources.values()) {
      const was = this.#previous.shapes?.[r.name]?.fields;
      if (!r.load || !r.fields || this.#fullRefresh || !this.#loaded.has(r.name)) continue;
      if (!was || r.fields.some((f) => !was.includes(f))) this.#newFields.add(r.name);
    }
    /** Is this resource, or its listing under this parent, new to the database? */
    const fresh = (name: string, parent: string) => {
      const r = plan.resources.get(name)!;
      return r.load &&
        (!this.#loaded.has(name) || !this.#loaded.has(edgeKey(name, parent)) ||
          this.#newFields.has(name));
    };
    const leadsToNew = (name: string, parent: string, seen: Set<string>): boolean => {
      if (fresh(name, parent)) return true;
      if (seen.has(name)) return false;
      seen.add(name);
      return plan.resources.get(name)!.children.some((c) => leadsToNew(c, name, seen));
    };
    for (const r of plan.resources.values()) {
      this.#backfill.set(
        r.name,
        new Set(
          r.children.filter((c) => c !== r.name && leadsToNew(c, r.name, new Set([r.name]))),
        ),
      );
    }
  }

  /**
   * Is this resource new to a database that has loaded before (its first run after it
   * was added to the spec, after a parent was added, or after its field list gained a
   * field)? Its parents' existing records are listed for it once.
   */
  isNew(resource: string): boolean {
    const r = this.#plan.resources.get(resource)!;
    return this.#continuing && r.load &&
      ([r.name, ...r.parents.map((p) => edgeKey(r.name, p))].some((k) => !this.#loaded.has(k)) ||
        this.#newFields.has(r.name));
  }

  /** The children to request even under records whose own children are current. */
  backfill(resource: PlannedResource): ReadonlySet<string> {
    return this.#continuing ? this.#backfill.get(resource.name)! : NONE;
  }

  /** Did an earlier load store cursors for this resource? */
  loadedBefore(resource: string): boolean {
    return Object.keys(this.#state.incremental[resource] ?? {}).length > 0;
  }

  /** Sets the stored watched values (read once the run knows what was loaded before). */
  useWatched(watched: Watched): void {
    this.#watched = watched;
  }

  /** Sets the stored records of resources that verify their deletions (`readStoredKeys`). */
  useOwners(owners: ReadonlyMap<string, ReadonlyMap<string, StoredOwner>>): void {
    this.#owners = owners;
  }

  /**
   * The stored records of a resource with `reconcile.verify` that no listing of this run
   * returned, though the parent each was last listed under was listed to the end (and
   * every key listing of the resource ran to the end): each is asked for by key before
   * it may be deleted. None on a full refresh, which rebuilds the table.
   */
  deletionCandidates(resource: PlannedResource): Candidate[] {
    const owners = this.#owners.get(resource.name);
    const listed = this.ledger.keysOf(resource.name);
    if (this.#fullRefresh || !owners || !listed?.complete) return [];
    const refreshed = new Set(this.ledger.refreshedParents(resource.name));
    const out: Candidate[] = [];
    for (const [key, owner] of owners) {
      if (!listed.keys.has(key) && refreshed.has(owner.parent)) {
        out.push({ key, values: owner.values });
      }
    }
    return out;
  }

  /** The keys a resource found gone by asking for them: the commit deletes them. */
  verifiedGone(resource: string, keys: readonly string[]): void {
    this.#gone.set(resource, [...keys]);
  }

  /** Sets the stored parent keys below feed-bearing resources (see `readStoredParents`). */
  useStoredParents(parents: StoredParents): void {
    this.#feeds.useParents(parents);
  }

  /** Tracks a partition's change feed (read before its key listing). */
  feed(at: ChainPosition): FeedTracker {
    const resource = this.#plan.resources.get(at.resource)!;
    return this.#feeds.tracker(resource, at, this.separateKeyListing(resource));
  }

  /** What a resource's change feeds did in this run (zeros without one). */
  feedFigures(resource: string): FeedFigures {
    return this.#feeds.figures(resource);
  }

  /**
   * The loaded resources whose primary key, disposition or incremental cursor differ from
   * those their rows were written by, each with what changed (none on a full refresh,
   * which rebuilds them).
   */
  changedShapes(): { resource: string; change: string }[] {
    if (this.#fullRefresh) return [];
    const out: { resource: string; change: string }[] = [];
    for (const r of this.#plan.resources.values()) {
      const was = this.#previous.shapes?.[r.name];
      if (!r.load || !was) continue;
      const now = shapeOf(r);
      const key = (k: readonly string[]) => k.join("+") || "(none)";
      const changes = [
        key(was.primary_key) !== key(now.primary_key) &&
        `primary_key ${key(was.primary_key)} → ${key(now.primary_key)}`,
        was.write_disposition !== now.write_disposition &&
        `write_disposition ${was.write_disposition} → ${now.write_disposition}`,
        was.cursor !== now.cursor &&
        `incremental cursor ${was.cursor ?? "(none)"} → ${now.cursor ?? "(none)"}`,
      ].filter((c): c is string => typeof c === "string");
      if (changes.length > 0) out.push({ resource: r.name, change: changes.join(", ") });
    }
    return out;
  }

  /**
   * Is this resource's listing under this parent record due: its clock's time has come,
   * the record was never listed, its `refresh_on` fields changed since its last complete
   * listing, or a change feed under the same parent named one of the records it lists (a
   * renamed section)? (Recorded when it is not.)
   */
  due(
    resource: PlannedResource,
    parentResource: string,
    parentKey: string,
    parentRecord?: ApiRecord,
  ): boolean {
    if (this.#clocks.isDue(resource, parentResource, parentKey, parentRecord)) return true;
    // a change feed under the same parent named one of its records (a renamed section)
    if (parentKey !== "" && this.#feeds.namesUnder(resource.name, parentKey)) return true;
    this.ledger.chainsDeferred(resource.name, parentResource);
    return false;
  }

  /** A reconciled resource lists its keys apart once it was loaded before. */
  separateKeyListing(resource: PlannedResource): boolean {
    return resource.reconcile && this.loadedBefore(resource.name);
  }

  /**
   * Once it was loaded before, a resource with `reconcile.listing: records` lists its
   * keys in one listing of whole records a partition, with no incremental filter.
   */
  recordsListing(resource: PlannedResource): boolean {
    return resource.reconcileListing === "records" && this.separateKeyListing(resource);
  }

  /** A chain needs no request: a complete listing of nothing. */
  empty(at: ChainPosition): void {
    this.ledger.chainCompleted(at, undefined);
  }

  /** A chain cannot run: nothing below its parent may be deleted. */
  unknown(at: ChainPosition): void {
    this.ledger.chainIncomplete(at);
  }

  /** Tracks one listing of a chain: its start, its cursor, its boundary records. */
  listing(
    at: ChainPosition,
    options: { again: boolean; listsKeys: boolean; unfiltered?: boolean },
  ): ListingTracker {
    const resource = this.#plan.resources.get(at.resource)!;
    const stored = {
      cursor: this.#state.incremental[resource.name]?.[at.partition],
      boundary: this.#state.incremental_boundary[resource.name]?.[at.partition],
      // new children below, or new fields of its own: every record again, once
      backfill: this.backfill(resource).size > 0 || this.isNew(resource.name),
    };
    if (options.unfiltered && !options.again && resource.incremental) {
      const changedOwn = new Set<string>();
      // the feed said nothing of what changed (token refused, feed failed, safety net),
      // or no feed covers this partition: nothing else sees what changed below its records
      const everyRecord = this.#feeds.wholePartition(resource.name, at.partition) ||
        (resource.changes !== undefined && !hasFeed(resource, at.ancestors[0]?.resource ?? ""));
      const moves = everyRecord ? resource.reconcileMovesCursor : undefined;
      const quiet = moves && new Set(resource.children.filter((c) => !moves.has(c)));
      return new RecordsListing(this.ledger, resource, at, stored, {
        watched: this.#watched.get(resource.name),
        everyRecord,
        changedOwn,
        focus: quiet
          ? quietFocus(resource.name, quiet, changedOwn)
          : this.#feeds.focusOf(resource.name, at.partition, changedOwn),
      });
    }
    return new ChainListing(
      this.ledger,
      resource,
      at,
      options,
      stored,
      this.separateKeyListing(resource) ? this.#wholeOf(resource.name, at.partition) : undefined,
    );
  }

  #wholeOf(resource: string, partition: string): Set<string> {
    let byPartition = this.#loadedWhole.get(resource);
    if (!byPartition) this.#loadedWhole.set(resource, byPartition = new Map());
    let keys = byPartition.get(partition);
    if (!keys) byPartition.set(partition, keys = new Set());
    return keys;
  }

  /**
   * Tracks one key-only listing: its keys, and the records that changed without moving
   * their cursor: a key the table lacks, or watched values that moved. Those the
   * partition's own listing loaded whole are left out (ask once it has ended).
   */
  keyListing(at: ChainPosition): KeyListingTracker {
    const resource = this.#plan.resources.get(at.resource)!;
    const stored = this.#watched.get(resource.name);
    const ledger = this.ledger;
    const changed = new Set<string>();
    const listed = new Set<string>();
    const feeds = this.#feeds;
    const whole = () => this.#loadedWhole.get(resource.name)?.get(at.partition);
    return {
      page(records) {
        const keys = records.map((r) => keyOf(resource, r));
        ledger.keysListed(resource.name, keys, true);
        if (resource.changes) { for (const k of keys) listed.add(k); }
        if (!stored) return;
        records.forEach((r, i) => {
          if (!stored.has(keys[i]) || watchedMoved(resource, stored, keys[i], r)) {
            changed.add(keys[i]);
          }
        });
      },
      incomplete: () => ledger.keysListed(resource.name, [], false),
      changed: () => {
        const focus = feeds.focusOf(resource.name, at.partition, changed);
        const keys = new Set(changed);
        for (const k of feeds.changedAmong(resource.name, at.partition, listed)) keys.add(k);
        const loaded = whole();
        return { keys: loaded ? new Set([...keys].filter((k) => !loaded.has(k))) : keys, focus };
      },
    };
  }

  /**
   * Did this resource's listing under this parent, and every listing of the resources
   * below it, run to the end (so that a feed's token may move on)?
   */
  #completeBelow(resource: string, parentKey: string): boolean {
    const r = this.#plan.resources.get(resource)!;
    // (listings of it under another parent that were not due do not matter here)
    if ([r.name, ...r.ancestors].some((a) => this.ledger.hasIncompleteChain(a))) return false;
    if (!this.ledger.refreshedParents(resource).includes(parentKey)) return false;
    const seen = new Set<string>();
    const below = (name: string): boolean =>
      this.#plan.resources.get(name)!.children.every((c) => {
        if (seen.has(c)) return true;
        seen.add(c);
        return !this.ledger.hasIncompleteChain(c) && below(c);
      });
    return below(resource);
  }

  /** What the commit may delete for one resource (see {@linkcode RunLedger.writesFor}). */
  writesFor(
    resource: PlannedResource,
  ): Pick<RootWrite, "refreshedParents" | "currentKeys" | "goneKeys"> {
    const gone = this.#gone.get(resource.name);
    return {
      ...this.ledger.writesFor(resource, this.#fullRefresh),
      ...gone ? { goneKeys: gone } : {},
    };
  }

  /**
   * How many partitions of each resource `next` gives a cursor other than the stored one
   * (new partitions included); resources with none are left out.
   */
  cursorsMoved(next: StoredState): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [resource, partitions] of Object.entries(next.incremental)) {
      let n = 0;
      for (const [p, cursor] of Object.entries(partitions)) {
        if (this.#state.incremental[resource]?.[p] !== cursor) n++;
      }
      if (n > 0) out[resource] = n;
    }
    return out;
  }

  /**
   * The state to store with the load, given the keys the commit deleted per parent
   * resource: cursors and boundaries move where their listings completed, a partition
   * whose parent record went starts again, and refresh clocks move where their
   * listings ran to the end. Other keys of the stored state are kept.
   */
  nextState(deleted: (parentResource: string) => ReadonlySet<string>): StoredState {
    // every listing that ran completed (some may not have been due: that is no failure)
    const completed = (r: PlannedResource) =>
      ![r.name, ...r.ancestors].some((a) => this.ledger.hasIncompleteChain(a));
    // a clock moves when its resource's listings all ran and completed; an ancestor's
    // listings that were not due do not hold it back (a resource under tasks, whose users'
    // listings are daily, would otherwise be listed at every run)
    const ran = (r: PlannedResource) => completed(r) && !this.ledger.wasDeferred(r.name);
    const loaded = new Set(this.#loaded);
    for (const r of this.#plan.resources.values()) {
      if (!r.load || !completed(r)) continue;
      loaded.add(r.name);
      for (const p of r.parents) loaded.add(edgeKey(r.name, p));
    }
    const shapes = { ...this.#previous.shapes };
    for (const r of this.#plan.resources.values()) {
      if (r.load && completed(r)) shapes[r.name] = shapeOf(r);
    }
    return {
      ...this.#previous,
      restpipe: { version: VERSION, format: STATE_FORMAT },
      loaded_resources: [...loaded].sort(),
      shapes,
      refreshed: this.#clocks.next(this.#plan, ran),
      refreshed_parents: this.#clocks.nextSeen(
        this.#plan,
        ran,
        (resource) => new Set(this.ledger.refreshedParents(resource)),
      ),
      refreshed_marks: this.#clocks.nextMarks(
        this.#plan,
        ran,
        (resource) => new Set(this.ledger.refreshedParents(resource)),
      ),
      feeds: this.#feeds.next((resource, parentKey) => this.#completeBelow(resource, parentKey)),
      incremental: this.ledger.nextCursors(this.#state.incremental, deleted),
      incremental_boundary: this.ledger.nextBoundaries(
        this.#state.incremental_boundary,
        deleted,
      ),
    };
  }
}

/**
 * A partition's cursor as one listing moves it: the greatest cursor value seen (from the
 * stored one on), and the records near it, which the next run's listing returns again.
 */
class PartitionCursor {
  #value: string | undefined;
  /** Records near the greatest cursor value so far, key → value: the next run's boundary. */
  #boundary = new Map<string, string>();
  readonly #lag: number;

  constructor(from: string | undefined, lagSeconds: number) {
    this.#value = from;
    this.#lag = lagSeconds;
  }

  /** A record's cursor value, with its key when the resource has one. */
  see(value: string, key?: string): void {
    if (this.#value === undefined || compareCursors(value, this.#value) > 0) this.#value = value;
    if (key !== undefined) this.#boundary.set(key, value);
  }

  /** After a page: the records far below the cursor leave the boundary. */
  prune(): void {
    if (this.#boundary.size > BOUNDARY_PRUNE && this.#value !== undefined) {
      this.#boundary = nearCursor(this.#boundary, this.#value, this.#lag);
    }
  }

  /** The listing ran to its end: the cursor and its boundary go to the ledger. */
  completed(ledger: RunLedger, at: ChainPosition): void {
    const value = this.#value;
    ledger.chainCompleted(
      at,
      value,
      value === undefined
        ? undefined
        : Object.fromEntries(nearCursor(this.#boundary, value, this.#lag)),
    );
  }
}

/** One listing of a chain, as {@linkcode IncrementalRun.listing} tracks it. */
class ChainListing implements ListingTracker {
  readonly start: string | undefined;
  readonly #ledger: RunLedger;
  readonly #resource: PlannedResource;
  readonly #at: ChainPosition;
  readonly #again: boolean;
  readonly #listsKeys: boolean;
  /** The incremental settings, unless this is a listing again (which moves nothing). */
  readonly #inc: PlannedResource["incremental"];
  /** The partition's cursor as this listing moves it (none for a listing again). */
  readonly #cursor: PartitionCursor | undefined;
  /** The records at the partition's cursor when it last moved. */
  readonly #seenBefore: Record<string, string> | undefined;
  /** Where the keys this listing loads whole go (for the key listing), if anywhere. */
  readonly #whole: Set<string> | undefined;
  /**
   * Backfilling a new child: the listing starts from `initial`, and records older than
   * the stored start (whose own children are current) are answered as unchanged.
   */
  readonly #olderThan: string | undefined;

  constructor(
    ledger: RunLedger,
    resource: PlannedResource,
    at: ChainPosition,
    options: { again: boolean; listsKeys: boolean },
    stored: { cursor?: string; boundary?: Record<string, string>; backfill?: boolean },
    whole?: Set<string>,
  ) {
    this.#whole = options.again ? undefined : whole;
    this.#ledger = ledger;
    this.#resource = resource;
    this.#at = at;
    this.#again = options.again;
    this.#listsKeys = options.listsKeys;
    this.#inc = options.again ? undefined : resource.incremental;
    // a listing again starts from the start, for some records alone
    const from = this.#inc ? stored.cursor ?? this.#inc.initial : undefined;
    this.start = from === undefined ? undefined : lagged(from, this.#inc!.lag_seconds);
    this.#cursor = this.#inc && new PartitionCursor(from, this.#inc.lag_seconds);
    if (this.#inc && stored.backfill && stored.cursor !== undefined) {
      // every record again, for the new children; the others only for what changed
      this.#olderThan = this.start;
      this.start = lagged(this.#inc.initial, this.#inc.lag_seconds);
    }
    this.#seenBefore = this.#inc && from !== undefined ? stored.boundary : undefined;
  }

  page(records: readonly ApiRecord[]): ReadonlySet<ApiRecord> | undefined {
    const resource = this.#resource;
    let unchanged: Set<ApiRecord> | undefined;
    const inc = this.#inc;
    const cursor = this.#cursor;
    if (inc && cursor) {
      for (const r of records) {
        const value = cursorValue(r, inc.cursor);
        if (value === undefined) continue;
        if (this.#olderThan !== undefined && compareCursors(value, this.#olderThan) < 0) {
          (unchanged ??= new Set()).add(r);
        }
        if (resource.primaryKey.length === 0) {
          cursor.see(value);
          continue;
        }
        const key = keyOf(resource, r);
        cursor.see(value, key);
        if (this.#seenBefore?.[key] === value) (unchanged ??= new Set()).add(r);
      }
      cursor.prune();
    }
    if (this.#listsKeys) {
      this.#ledger.keysListed(resource.name, records.map((r) => keyOf(resource, r)), true);
    }
    if (this.#whole && resource.primaryKey.length > 0) {
      for (const r of records) if (!unchanged?.has(r)) this.#whole.add(keyOf(resource, r));
    }
    return unchanged;
  }

  completed(): void {
    // a listing again for some records proves nothing about the others
    if (this.#again) return;
    if (this.#cursor) this.#cursor.completed(this.#ledger, this.#at);
    else this.#ledger.chainCompleted(this.#at, undefined);
  }

  incomplete(): void {
    this.#ledger.chainIncomplete(this.#at);
    if (this.#listsKeys) this.#ledger.keysListed(this.#resource.name, [], false);
  }
}

/**
 * The focus of a partition whose changes below are unknown, under `reconcile.moves_cursor`:
 * a record of `resource` that changed itself (`changedOwn`) is needed whole; any other
 * gets its `quiet` children again (those whose changes move no cursor of its), and every
 * record below them is needed whole.
 */
export function quietFocus(
  resource: string,
  quiet: ReadonlySet<string>,
  changedOwn: ReadonlySet<string>,
): Focus {
  return {
    need: (r, key) => r !== resource || changedOwn.has(key) ? "whole" : quiet,
  };
}

/**
 * The one listing of whole records a partition of a resource with `reconcile.listing:
 * records`, in a run after its first load: it is the partition's key listing, and it
 * tells which records changed. A record changed when its cursor is at or past the
 * partition's start (and not a boundary record seen at the same value), when its key is
 * new to the table, when its watched values moved, or when the partition's feed said
 * nothing of the changes; a record a feed named, or one above it, is needed as the focus
 * says. The others are written as listed, and need no child request.
 */
class RecordsListing implements ListingTracker {
  readonly start: string | undefined;
  readonly focus: Focus | undefined;
  #watchedCount = 0;
  readonly #ledger: RunLedger;
  readonly #resource: PlannedResource;
  readonly #at: ChainPosition;
  readonly #inc: NonNullable<PlannedResource["incremental"]>;
  readonly #seenBefore: Record<string, string> | undefined;
  readonly #watched: ReadonlyMap<string, number> | undefined;
  readonly #everyRecord: boolean;
  readonly #changedOwn: Set<string>;
  readonly #cursor: PartitionCursor;

  constructor(
    ledger: RunLedger,
    resource: PlannedResource,
    at: ChainPosition,
    stored: { cursor?: string; boundary?: Record<string, string> },
    what: {
      watched: ReadonlyMap<string, number> | undefined;
      everyRecord: boolean;
      changedOwn: Set<string>;
      focus: Focus | undefined;
    },
  ) {
    this.#ledger = ledger;
    this.#resource = resource;
    this.#at = at;
    this.#inc = resource.incremental!;
    const from = stored.cursor ?? this.#inc.initial;
    this.start = lagged(from, this.#inc.lag_seconds);
    this.#cursor = new PartitionCursor(from, this.#inc.lag_seconds);
    this.#seenBefore = stored.cursor === undefined ? undefined : stored.boundary;
    this.#watched = what.watched;
    this.#everyRecord = what.everyRecord;
    this.#changedOwn = what.changedOwn;
    this.focus = what.focus;
  }

  get watched(): number {
    return this.#watchedCount;
  }

  page(records: readonly ApiRecord[]): ReadonlySet<ApiRecord> | undefined {
    const resource = this.#resource;
    const inc = this.#inc;
    const keys = records.map((r) => keyOf(resource, r));
    this.#ledger.keysListed(resource.name, keys, true);
    const unchanged = new Set<ApiRecord>();
    records.forEach((r, i) => {
      const key = keys[i];
      const value = cursorValue(r, inc.cursor);
      if (value !== undefined) this.#cursor.see(value, key);
      const moved = value === undefined ||
        (compareCursors(value, this.start!) >= 0 && this.#seenBefore?.[key] !== value);
      const watch = this.#watched !== undefined &&
        (!this.#watched.has(key) || watchedMoved(resource, this.#watched, key, r));
      if (watch && !moved) this.#watchedCount++;
      if (moved || watch) {
        this.#changedOwn.add(key);
        return;
      }
      // nothing says what changed below it: as the focus says (its quiet children), or whole
      if (this.#everyRecord) {
        if (!this.focus) this.#changedOwn.add(key);
        return;
      }
      if (!this.focus || this.focus.need(resource.name, key) === "current") unchanged.add(r);
    });
    this.#cursor.prune();
    return unchanged;
  }

  completed(): void {
    this.#cursor.completed(this.#ledger, this.#at);
  }

  incomplete(): void {
    this.#ledger.chainIncomplete(this.#at);
    this.#ledger.keysListed(this.#resource.name, [], false);
  }
}
