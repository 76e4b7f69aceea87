/**
 * Change feeds (`changes:`): one token per partition of a resource, read before the
 * partition's key listing. An event names records by key (`changes.keys`); each named
 * record of the resource, or the record of the resource that a named record sits under
 * (a subtask, a comment: any depth, through the stored parent keys), is listed again
 * whole with its children. A refused token (a gap longer than its life) and a feed that
 * could not be read say nothing of what changed: the whole partition is listed again.
 * So is each partition once `relist_every` old, the safety net of a feed that delivers
 * at most once. Tokens are stored with the load, in its transaction, and move only
 * where the partition and everything below it were listed to the end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keysNamed, recordsUnder } from "./feeds.ts";
 * // a comment (s1) on a subtask (t2) of a task (t1)
 * const parents = new Map([
 *   ["s1", [{ resource: "stories", parent: "t2" }]],
 *   ["t2", [{ resource: "subtasks", parent: "t1" }]],
 * ]);
 * assert.deepEqual([...recordsUnder(["s1"], parents)].sort(), ["s1", "t1", "t2"]);
 * const event = { resource: { gid: "s1" }, parent: null };
 * assert.deepEqual(keysNamed(event, ["resource.gid", "parent.gid"]), ["s1"]);
 * ```
 *
 * @module
 */
import type { PlannedResource } from "../plan/plan.ts";
import type { ApiRecord, ChainPosition, FeedTracker, Focus } from "../extract/observer.ts";
import { getPath } from "../core/paths.ts";
import { canonicalKey, hash53 } from "../core/keys.ts";
import type { StoredParents } from "./watch.ts";
import type { StoredState } from "./state.ts";

/** Stored feeds: resource → partition → token and last whole listing. */
export type StoredFeeds = NonNullable<StoredState["feeds"]>;

/** The record keys an event names, at the declared paths (scalars only). */
export function keysNamed(event: ApiRecord, paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    const value = getPath(event, path);
    if (typeof value === "string" || typeof value === "number") {
      const key = canonicalKey([value]);
      if (!out.includes(key)) out.push(key);
    }
  }
  return out;
}

/** The named keys and every stored record above them (their parents, at any depth). */
export function recordsUnder(named: Iterable<string>, parents: StoredParents): Set<string> {
  const out = new Set<string>();
  const queue = [...named];
  while (queue.length > 0) {
    const key = queue.pop()!;
    if (out.has(key)) continue;
    out.add(key);
    for (const link of parents.get(key) ?? []) queue.push(link.parent);
  }
  return out;
}

/** What one partition's feed said in this run. */
interface FeedOutcome {
  resource: string;
  partition: string;
  parentKey: string;
  /** Record keys the events named. */
  named: Set<string>;
  /** List every record of the partition again (the feed says nothing of the changes). */
  whole: boolean;
  /** Why `whole`: the token was refused, the feed failed, or the safety net was due. */
  why: "refused" | "failed" | "due" | undefined;
  /** The token the next run reads from, once this run's listings complete. */
  next: string | undefined;
  /** When the partition was last listed whole. */
  relistedAt: string;
  /**
   * The feed's `relist_every`, when the partition's safety net starts afresh in this run:
   * it is new (no token stored before), or its token was refused or its feed failed.
   */
  firstOf: number | undefined;
}

/** Per-resource figures of the feeds in a run, for the summary. */
export interface FeedFigures {
  /** Events read. */
  events: number;
  /** Partitions whose feed starts in this run (no token stored before). */
  started: number;
  /** Partitions listed again whole: token refused (a gap longer than its life). */
  refused: number;
  /** … because the feed could not be read. */
  failed: number;
  /** … because `relist_every` was due (the safety net). */
  due: number;
}

/** The feeds of one run. */
export class Feeds {
  readonly #stored: StoredFeeds;
  readonly #now: number;
  readonly #outcomes = new Map<string, FeedOutcome>();
  readonly #figures = new Map<string, FeedFigures>();
  /** Outcomes by the parent record of their partition. */
  readonly #byParent = new Map<string, FeedOutcome[]>();
  #parents: StoredParents = new Map();

  /** Starts from the stored tokens; a full refresh starts every feed again. */
  constructor(stored: StoredFeeds | undefined, now: Date, fullRefresh: boolean) {
    this.#stored = fullRefresh ? {} : stored ?? {};
    this.#now = now.getTime();
  }

  /** Sets the stored parent keys (read once the run knows what was loaded before). */
  useParents(parents: StoredParents): void {
    this.#parents = parents;
  }

  /**
   * Tracks one partition's feed. `continuing`: the partition's records were loaded
   * before (else this run lists them all, and the feed only starts).
   */
  tracker(resource: PlannedResource, at: ChainPosition, continuing: boolean): FeedTracker {
    const feed = resource.changes!;
    const stored = this.#stored[resource.name]?.[at.partition];
    const every = feed.relistEveryMs;
    // a new partition's first "last whole listing" is set when its token is stored
    const relistedAt = stored?.relisted_at ?? new Date(this.#now).toISOString();
    const due = continuing && stored !== undefined && every !== undefined &&
      this.#now - Date.parse(relistedAt) >= every;
    const outcome: FeedOutcome = {
      resource: resource.name,
      partition: at.partition,
      parentKey: at.parentKey,
      named: new Set(),
      whole: due,
      why: due ? "due" : undefined,
      next: undefined,
      relistedAt: due ? new Date(this.#now).toISOString() : relistedAt,
      firstOf: stored === undefined ? every : undefined,
    };
    this.#outcomes.set(`${resource.name}\u0000${at.partition}`, outcome);
    const siblings = this.#byParent.get(at.parentKey);
    if (siblings) siblings.push(outcome);
    else this.#byParent.set(at.parentKey, [outcome]);
    const figures = this.figures(resource.name);
    if (due) figures.due++;
    const whole = (why: "refused" | "failed") => {
      if (!continuing || outcome.whole) return;
      outcome.whole = true;
      outcome.why = why;
      outcome.relistedAt = new Date(this.#now).toISOString();
      // spread again with the others listed whole for the same reason (after a gap, every
      // partition): else their safety nets would all fall due on the same day
      outcome.firstOf = every;
      figures[why]++;
    };
    return {
      // a due partition is listed whole: a fresh token, not the events, is what it needs
      token: due ? undefined : stored?.token,
      events: (events) => {
        figures.events += events.length;
        for (const e of events) for (const k of keysNamed(e, feed.keys)) outcome.named.add(k);
      },
      read: (next) => {
        outcome.next = next;
      },
      refused: (fresh) => {
        outcome.next = fresh;
        if (stored === undefined || due) {
          if (stored === undefined && continuing) figures.started++;
          return;
        }
        whole("refused");
      },
      failed: () => {
        // keep the old token: the next run reads these events again
        outcome.next = stored?.token;
        whole("failed");
      },
    };
  }

  /**
   * Of the keys a partition's key listing found, those its feed says to list again
   * whole: every key when the feed said nothing of the changes, else the named records
   * and those the named ones sit under.
   */
  changedAmong(resource: string, partition: string, listed: ReadonlySet<string>): Set<string> {
    const outcome = this.#outcomes.get(`${resource}\u0000${partition}`);
    if (!outcome) return new Set();
    if (outcome.whole) return new Set(listed);
    if (outcome.named.size === 0) return new Set();
    return new Set([...recordsUnder(outcome.named, this.#parents)].filter((k) => listed.has(k)));
  }

  /**
   * Did a feed read under this parent record name a stored record of `resource` that was
   * listed under the same parent (a section of the project whose feed names it)? Then that
   * listing is due now, whatever its `refresh_every` says.
   */
  namesUnder(resource: string, parentKey: string): boolean {
    for (const o of this.#byParent.get(parentKey) ?? []) {
      for (const key of o.named) {
        const links = this.#parents.get(key);
        if (links?.some((l) => l.resource === resource && l.parent === parentKey)) return true;
      }
    }
    return false;
  }

  /**
   * Did this partition's feed say nothing of what changed (its token was refused, it
   * failed, or the safety net is due), so that every record is to be listed whole?
   */
  wholePartition(resource: string, partition: string): boolean {
    return this.#outcomes.get(`${resource}\u0000${partition}`)?.whole ?? false;
  }

  /**
   * How deep the records a partition's feed named are needed, below the keys of
   * `changedAmong` (undefined: each of them whole). A named record is listed again whole
   * with its children; a record above one is listed again with only the children that
   * lead down to it; the other stored records beside them need nothing below. `whole`:
   * keys of the resource needed whole for another reason (watched values that moved; a
   * listing of whole records adds them as its pages arrive, before it asks).
   */
  focusOf(resource: string, partition: string, whole: ReadonlySet<string>): Focus | undefined {
    const outcome = this.#outcomes.get(`${resource}\u0000${partition}`);
    if (!outcome || outcome.whole || outcome.named.size === 0) return undefined;
    const named = outcome.named;
    const parents = this.#parents;
    const above = recordsUnder(named, parents);
    // a record above a named one → the child resources leading down to it
    const leads = new Map<string, Set<string>>();
    for (const key of above) {
      for (const link of parents.get(key) ?? []) {
        let to = leads.get(link.parent);
        if (!to) leads.set(link.parent, to = new Set());
        to.add(link.resource);
      }
    }
    const stored = (r: string, key: string) => parents.get(key)?.some((l) => l.resource === r);
    return {
      need(r, key) {
        if (named.has(key) || (r === resource && whole.has(key))) return "whole";
        // below the feed's resource, a key the table lacks is new: whole
        if (r !== resource && !stored(r, key)) return "whole";
        if (above.has(key)) return leads.get(key) ?? "whole";
        // a record of the resource that is neither named, above one, nor changed itself:
        // current (a listing again never returns one; a listing of whole records does)
        return "current";
      },
    };
  }

  /** The feed figures of a resource in this run. */
  figures(resource: string): FeedFigures {
    let f = this.#figures.get(resource);
    if (!f) {
      this.#figures.set(resource, f = { events: 0, started: 0, refused: 0, failed: 0, due: 0 });
    }
    return f;
  }

  /**
   * The feeds to store: a partition's new token where its listing, and every listing
   * below its resource, ran to the end (`complete`); else the token it had.
   */
  next(complete: (resource: string, parentKey: string) => boolean): StoredFeeds {
    const out: StoredFeeds = structuredClone(this.#stored);
    const first = new Map<string, FeedOutcome[]>();
    for (const o of this.#outcomes.values()) {
      if (o.next === undefined || !complete(o.resource, o.parentKey)) continue;
      if (o.firstOf !== undefined) {
        const list = first.get(o.resource);
        if (list) list.push(o);
        else first.set(o.resource, [o]);
      }
      (out[o.resource] ??= {})[o.partition] = { token: o.next, relisted_at: o.relistedAt };
    }
    for (const [resource, outcomes] of first) {
      for (const [partition, at] of staggered(outcomes, this.#now)) {
        out[resource][partition].relisted_at = at;
      }
    }
    return out;
  }
}

/**
 * The first "last whole listing" of partitions whose safety nets start together (a first
 * load lists every project; so does a run after a gap longer than a token's life), evenly
 * spaced over the period in an order that does not depend
 * on the run (their keys' hashes): the safety net then lists the same share of them in
 * every stretch of time, not a lump one day and none the next.
 */
export function staggered(
  outcomes: readonly { partition: string; firstOf: number | undefined }[],
  now: number,
): Map<string, string> {
  const sorted = [...outcomes].sort((a, b) =>
    hash53(a.partition) - hash53(b.partition) || (a.partition < b.partition ? -1 : 1)
  );
  return new Map(sorted.map((o, i) => {
    const back = Math.round(((i + 0.5) / sorted.length) * (o.firstOf ?? 0));
    return [o.partition, new Date(now - back).toISOString()];
  }));
}
