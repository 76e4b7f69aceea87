/**
 * What extraction tells the run, and the little it asks of it. Extraction makes
 * requests and reports what each listing returned; it knows nothing of cursors,
 * refresh clocks, watched values or deletion rules. The run (`src/run/`) implements
 * {@linkcode RunObserver}: it says where a listing starts and which records' children
 * need no request, and keeps the evidence the commit acts on.
 *
 * @module
 */
import type { PlannedResource } from "../plan/plan.ts";

/** A record of a resource as the API returned it. */
export type ApiRecord = Record<string, unknown>;

/** Where a chain sits: its resource, parent key, partition, and its ancestors' partitions. */
export interface ChainPosition {
  /** The resource whose chain it is. */
  resource: string;
  /** The key of the parent record the chain fans out from (`""` for a root resource). */
  parentKey: string;
  /** The parent record's key, and the `for_each` item when there is one. */
  partition: string;
  /** The ancestor records' resources and the partitions of the chains that returned them. */
  ancestors: readonly { resource: string; partition: string }[];
}

/**
 * A chain's partition: the parent record's key, and the `for_each` item when there is
 * one (`parentKey#item`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partitionOf } from "./observer.ts";
 * assert.deepEqual(partitionOf("1204", undefined), "1204");
 * assert.deepEqual(partitionOf("1204", "open"), "1204#open");
 * ```
 */
export function partitionOf(parentKey: string, item: unknown): string {
  return item === undefined
    ? parentKey
    : `${parentKey}#${typeof item === "object" ? JSON.stringify(item) : String(item)}`;
}

/** What one listing of a chain tells the run as it goes. */
export interface ListingTracker {
  /** The incremental lower bound the request sends (`{incremental.start}`), if any. */
  readonly start: string | undefined;
  /**
   * A page of records arrived; answers those whose children need no request (records
   * listed again unchanged since the run that loaded them with their children).
   */
  page(records: readonly ApiRecord[]): ReadonlySet<ApiRecord> | undefined;
  /**
   * How deep each record is needed when a change feed named records below this
   * listing's (a listing of whole records that is also the key listing; see
   * {@linkcode Focus}); undefined: as `page` answers.
   */
  readonly focus?: Focus;
  /** Records found changed without their cursor (watched values that moved, new keys). */
  readonly watched?: number;
  /** The listing read to its end. */
  completed(): void;
  /** The listing stopped early (capped, skipped or failed): it proves nothing. */
  incomplete(): void;
}

/**
 * What a listing again needs of one record it returns, when a change feed named records
 * below it: `"whole"`, the record and all its children; a set of child resources, the
 * record and its children in those resources only (they lead down to a changed record);
 * `"current"`, the record alone (its children need no request).
 */
export type FocusNeed = "whole" | "current" | ReadonlySet<string>;

/** Which records of a listing again, and of the listings below it, need what. */
export interface Focus {
  /** What this record of this resource needs (see {@linkcode FocusNeed}). */
  need(resource: string, key: string): FocusNeed;
}

/** What a key-only listing of a reconciled resource tells the run. */
export interface KeyListingTracker {
  /** A page of records (keys and watched fields) arrived. */
  page(records: readonly ApiRecord[]): void;
  /** The listing stopped early (capped, skipped or failed): its keys are not all the keys. */
  incomplete(): void;
  /**
   * The keys to list again: their watched values moved without their cursor, or a change
   * feed named them or records below them. `focus`: how deep each one is needed
   * (undefined: every one whole, with all its children).
   */
  changed(): { keys: ReadonlySet<string>; focus: Focus | undefined };
}

/** What reading one partition's change feed tells the run. */
export interface FeedTracker {
  /** The token to read from; undefined: ask for a fresh one (the feed starts now). */
  readonly token: string | undefined;
  /** A page of events arrived. */
  events(events: readonly ApiRecord[]): void;
  /** The feed was read to its end: the token the next run reads from. */
  read(next: string): void;
  /**
   * The API refused the token (missing, invalid or too old) and gave a fresh one (or
   * none): what the feed would have said is lost.
   */
  refused(fresh: string | undefined): void;
  /** Reading failed (skipped by a status rule): nothing is known of the changes. */
  failed(): void;
}

/** The run, as extraction sees it. */
export interface RunObserver {
  /**
   * May this resource's listing under this parent record (of `parentResource`, `""`:
   * none) run now? No when it is not due (`refresh_every`): its rows, and those below,
   * stay. `parentRecord`: the parent record itself (its `refresh_on` fields).
   */
  due(
    resource: PlannedResource,
    parentResource: string,
    parentKey: string,
    parentRecord?: ApiRecord,
  ): boolean;
  /**
   * Does this reconciled resource list its keys in a separate key-only listing? Not on
   * its first load, when its own listings start from `initial` and list every key.
   */
  separateKeyListing(resource: PlannedResource): boolean;
  /**
   * Does this reconciled resource's one listing of whole records serve as its key
   * listing in this run (`reconcile.listing: records`, after its first load)?
   */
  recordsListing(resource: PlannedResource): boolean;
  /**
   * A chain's listing starts. `again`: a listing again of some records only, which
   * moves no cursor; `listsKeys`: its records are also the resource's key listing;
   * `unfiltered`: it lists every record without the incremental filter, and is the key
   * listing of a run after the first (`reconcile.listing: records`).
   */
  listing(
    at: ChainPosition,
    options: { again: boolean; listsKeys: boolean; unfiltered?: boolean },
  ): ListingTracker;
  /** A key-only listing of a reconciled resource starts. */
  keyListing(at: ChainPosition): KeyListingTracker;
  /**
   * The partition's change feed is read before its key listing (for a resource that
   * declares `changes:`); the records it names are among the key listing's `changed()`.
   */
  feed(at: ChainPosition): FeedTracker;
  /** A chain needs no request: its parent says the listing is empty (a complete listing). */
  empty(at: ChainPosition): void;
  /** A chain cannot run: its parent lacks the list it fans out over (nothing is known). */
  unknown(at: ChainPosition): void;
  /**
   * The child resources to request even for a record whose own children are current
   * (one `ListingTracker.page` answered): children new to the database, or with new
   * descendants, which are backfilled over every existing record once.
   */
  backfill(resource: PlannedResource): ReadonlySet<string>;
}
