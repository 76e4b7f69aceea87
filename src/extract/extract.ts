/**
 * Fan-out: runs every resource's request chains, starting a child's chains as soon
 * as a parent page arrives, and hands each page of records to a sink. What each
 * listing returned is reported to the run through a {@linkcode RunObserver}; extraction
 * decides nothing about cursors, refresh clocks or deletions.
 *
 * @module
 */
import { recordRows } from "../core/telemetry.ts";
import { forEachOf, hasFeed, type Plan, type PlannedResource } from "../plan/plan.ts";
import { getPath } from "../core/paths.ts";
import { placeholders } from "../spec/template.ts";
import { evaluatePredicate } from "../spec/predicate.ts";
import { hash53 } from "../core/keys.ts";
import { type HttpClient, HttpError } from "./http.ts";
import { paginate, selectRecords } from "./paginate.ts";
import { commonSettings } from "../connect/paginators/mod.ts";
import {
  type ApiRecord,
  type ChainPosition,
  type Focus,
  type ListingTracker,
  partitionOf,
  type RunObserver,
} from "./observer.ts";
import { type Ancestry, keyOf, recordKey, withParentFields } from "./records.ts";
import { buildRequest, ExtractError, requestKey } from "./request.ts";

/** Per-resource counters for the run summary. */
export interface ResourceStats {
  rows: number;
  pages: number;
  /** Request chains: one per parent record (one for a root resource). */
  chains: number;
  /** `performance.now()` at the first request and at the end of the last chain (0: none). */
  startedAt: number;
  finishedAt: number;
  /** Listings started again after an expired page token. */
  restarts: number;
  /** Requests skipped by a status rule, by status. */
  skipped: Map<number, { count: number; example: string }>;
  /** Listings stopped at `max_pages` (incomplete: they delete nothing). */
  capped: number;
  /** Records of a recursive resource that are their own ancestor (not followed). */
  cycles: number;
  /** Request chains left out because the same request was made already in this run. */
  duplicates: number;
  /** Request chains not needed: `when:` said the parent's listing is empty. */
  avoided: number;
  /** Parent records without the `for_each` list at all (no request; nothing deleted below). */
  missingForEach: number;
  /**
   * Records listed again at their partition's cursor, unchanged since the run that
   * loaded them with their children: no child request was made for them.
   */
  unchanged: number;
  /**
   * Records a key listing found changed without their cursor (watched values that moved,
   * a key new to the table): listed again whole, with their children.
   */
  watched: number;
}

/**
 * Receives each page with the key of the parent record it was fetched for (`""` for
 * a root resource); awaiting it applies backpressure to the extractor.
 */
export type PageSink = (
  resource: PlannedResource,
  records: ApiRecord[],
  parentKey: string,
) => Promise<void>;

/** Options for {@linkcode extract}. */
export interface ExtractOptions {
  /** Query parameter receiving `fields` (a spec's `source.fields_param`). */
  fieldsParam?: string;
  /** Chains of one resource waiting or running at once before parents wait (default 64). */
  pendingChains?: number;
  /** Called once at the start with the live stats, which grow as the run goes. */
  onStart?: (stats: ReadonlyMap<string, ResourceStats>) => void;
}

/** A counting gate: at most `size` holders at once. */
class Gate {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
  }
  async enter(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((r) => this.#waiting.push(r));
  }
  /** Enters without waiting (a recursive resource spawning itself must not wait on itself). */
  enterNow(): void {
    this.#free--;
  }
  leave(): void {
    if (this.#free < 0) {
      this.#free++;
      return;
    }
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** The key of the record a chain fans out from (`""` for a root resource). */
function parentKeyOf(plan: Plan, ancestry: Ancestry): string {
  return ancestry.length === 0
    ? ""
    : keyOf(plan.resources.get(ancestry[0].resource)!, ancestry[0].record);
}

/** Where a chain of `resource` for this ancestry and `for_each` item sits. */
function positionOf(
  plan: Plan,
  resource: PlannedResource,
  ancestry: Ancestry,
  item: unknown,
): ChainPosition {
  const parentKey = parentKeyOf(plan, ancestry);
  return {
    resource: resource.name,
    parentKey,
    partition: partitionOf(parentKey, item),
    ancestors: ancestry,
  };
}

/** The parent resource a chain fans out from (`""` for a root resource). */
function parentOf(ancestry: Ancestry): string {
  return ancestry[0]?.resource ?? "";
}

/** The records a listing keeps (`keep:` for the chain's parent): the others are as unlisted. */
function kept(resource: PlannedResource, ancestry: Ancestry, records: ApiRecord[]): ApiRecord[] {
  const keep = resource.keep.get(parentOf(ancestry));
  return keep ? records.filter((r) => evaluatePredicate(keep, r) !== false) : records;
}

/**
 * Does this record need its `child` chains: not when its own children are current (only
 * children new to the database), nor, above a changed record, off the way down to it.
 */
function wantsChild(
  record: ApiRecord,
  child: string,
  below: {
    unchanged?: ReadonlySet<ApiRecord>;
    leads?: ReadonlyMap<ApiRecord, ReadonlySet<string>>;
    backfill?: ReadonlySet<string>;
  },
): boolean {
  if (below.backfill?.has(child)) return true;
  if (below.unchanged?.has(record)) return false;
  const lead = below.leads?.get(record);
  return !lead || lead.has(child);
}

/** The `for_each` elements of a chain (one `undefined` when the resource has none). */
function itemsOf(resource: PlannedResource, ancestry: Ancestry): unknown[] | typeof MISSING {
  const each = forEachOf(resource, parentOf(ancestry));
  if (each === undefined) return [undefined];
  if ("values" in each) return each.values;
  const ref = placeholders(each.from)[0];
  const source = ref.resource === "parent"
    ? ancestry[0]
    : ancestry.find((a) => a.resource === ref.resource);
  const value = source ? getPath(source.record, ref.field) : undefined;
  // absent: the record does not say (an empty list or null says there is nothing)
  if (value === undefined) return MISSING;
  if (value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** A `for_each` list the ancestor record does not carry at all. */
const MISSING = Symbol("missing");

/** Statuses (0: no answer) that suggest a wrong base URL or a token without access. */
const HINTED = new Set([0, 400, 401, 403, 404, 405, 410]);

/** A top-level listing failed or was skipped: the run cannot know what the API holds. */
export class RootListingError extends ExtractError {
  /** Creates the error from the request's failure; `base` describes the base URL. */
  constructor(resource: PlannedResource, cause: HttpError, base: string) {
    const skipped = resource.onStatus[String(cause.status)] === "skip";
    super(
      `${cause.message}${
        skipped
          ? ` (a status rule skips ${cause.status}, but ${resource.name} ` +
            `has no parent: without it the run would not know what the API holds)`
          : ""
      }\n` +
        (cause.status === 0
          ? `hint: nothing answered at ${base}: check that address, and that the server runs`
          : HINTED.has(cause.status)
          ? `hint: check the base URL, ${base}, and that the token can read ${resource.path}`
          : ""),
      { cause },
    );
    this.name = "RootListingError";
  }
}

/**
 * Runs the plan's requests, reporting each listing to `observer`; resolves with
 * per-resource stats, or rejects with the first failure.
 */
export function extract(
  plan: Plan,
  client: HttpClient,
  sink: PageSink,
  observer: RunObserver,
  options: ExtractOptions = {},
): Promise<Map<string, ResourceStats>> {
  return new FanOut(plan, client, sink, observer, options).run();
}

/** Empty counters. */
function newStats(): ResourceStats {
  return {
    rows: 0,
    pages: 0,
    chains: 0,
    startedAt: 0,
    finishedAt: 0,
    restarts: 0,
    skipped: new Map(),
    capped: 0,
    cycles: 0,
    duplicates: 0,
    avoided: 0,
    unchanged: 0,
    watched: 0,
    missingForEach: 0,
  };
}

/** One extraction: its chains, their gates, the requests made, the first failure. */
class FanOut {
  readonly #plan: Plan;
  readonly #client: HttpClient;
  readonly #sink: PageSink;
  readonly #observer: RunObserver;
  readonly #fieldsParam: string | undefined;
  readonly #stats = new Map<string, ResourceStats>();
  readonly #gates = new Map<string, Gate>();
  readonly #running = new Set<Promise<void>>();
  /**
   * Requests already made, per resource and partition: 53-bit hashes of their URLs (a
   * chain is made once per distinct request). The partition is the parent key's own
   * string, so an entry costs a number, not a copy of the URL: at 100k tasks the URLs
   * took 30 MB. Two requests of one partition would have to share a hash to be confused
   * (a chance of about k² in 2^54 for k requests in a partition).
   */
  readonly #requested = new Map<string, Map<string, number | number[]>>();
  /** Key-only listings already made, per resource. */
  readonly #listed = new Map<string, Set<string>>();
  /** Change feeds read (or being read), by resource and partition: each is read once. */
  readonly #feedsRead = new Map<string, Promise<void>>();
  #failure: unknown;

  constructor(
    plan: Plan,
    client: HttpClient,
    sink: PageSink,
    observer: RunObserver,
    options: ExtractOptions,
  ) {
    this.#plan = plan;
    this.#client = client;
    this.#sink = sink;
    this.#observer = observer;
    this.#fieldsParam = options.fieldsParam;
    for (const name of plan.order) {
      this.#requested.set(name, new Map());
      this.#listed.set(name, new Set());
      this.#stats.set(name, newStats());
      this.#gates.set(name, new Gate(options.pendingChains ?? 64));
    }
    options.onStart?.(this.#stats);
  }

  /** Starts the root resources' chains and waits for every chain below them. */
  async run(): Promise<Map<string, ResourceStats>> {
    for (const name of this.#plan.order) {
      const r = this.#plan.resources.get(name)!;
      if (r.parents.length === 0) await this.#spawn(r, []);
    }
    while (this.#running.size > 0) await Promise.all([...this.#running]);
    if (this.#failure !== undefined) throw this.#failure;
    return this.#stats;
  }

  /** Starts a resource's chains under one parent record (one per `for_each` item). */
  async #spawn(
    resource: PlannedResource,
    ancestry: Ancestry,
    recursive = false,
    focus?: Focus,
  ): Promise<void> {
    // not due (refresh_every): its rows, and those of its descendants, stay as they are
    const parentKey = parentKeyOf(this.#plan, ancestry);
    if (!this.#observer.due(resource, parentOf(ancestry), parentKey, ancestry[0]?.record)) return;
    const s = this.#stats.get(resource.name)!;
    const when = ancestry.length > 0 ? resource.when.get(ancestry[0].resource) : undefined;
    const needed = when === undefined || evaluatePredicate(when, ancestry[0].record) !== false;
    // keys come from the listings themselves on a first load (they start from `initial`),
    // and in every run from a listing of whole records (`reconcile.listing: records`)
    const wholeRecords = this.#observer.recordsListing(resource);
    const separateKeys = this.#observer.separateKeyListing(resource) && !wholeRecords;
    const keysFromChains = resource.reconcile && !separateKeys;
    const feed = hasFeed(resource, parentOf(ancestry));
    const items = itemsOf(resource, ancestry);
    if (items === MISSING) {
      // no evidence of what the list holds: nothing below this parent may be deleted
      s.missingForEach++;
      this.#observer.unknown(positionOf(this.#plan, resource, ancestry, undefined));
      return;
    }
    // an empty list (or null) says the parent has none: a complete listing of nothing
    if (items.length === 0) {
      this.#observer.empty(positionOf(this.#plan, resource, ancestry, undefined));
    }
    const gate = this.#gates.get(resource.name)!;
    for (const item of items) {
      if (this.#failure !== undefined) return;
      if (!needed) {
        // the parent says the listing is empty: a complete listing of nothing
        s.avoided++;
        this.#observer.empty(positionOf(this.#plan, resource, ancestry, item));
        continue;
      }
      if (recursive) gate.enterNow();
      else await gate.enter();
      const chains: Promise<void>[] = [];
      if (wholeRecords) {
        // the feed first: the listing needs to know which records it names
        const read = feed ? this.#feedOnce(resource, ancestry, item) : Promise.resolve();
        chains.push(
          read.then(() =>
            this.#runChain(resource, ancestry, item, { listsKeys: true, focus, unfiltered: true })
          ),
        );
      } else {
        const main = this.#runChain(resource, ancestry, item, { listsKeys: keysFromChains, focus });
        chains.push(main);
        if (separateKeys) chains.push(this.#listKeys(resource, ancestry, item, main));
        // a first load lists every record: its feed only starts (a token for the next run)
        else if (feed) chains.push(this.#feedOnce(resource, ancestry, item));
      }
      const task: Promise<void> = Promise.all(chains)
        .then(() => {})
        .catch((e) => {
          this.#failure ??= e;
        })
        .finally(() => {
          gate.leave();
          this.#running.delete(task);
        });
      this.#running.add(task);
    }
  }

  /** Has this request been made for this partition already? (If not, it is now.) */
  #madeBefore(resource: string, partition: string, url: URL): boolean {
    const once = hash53(requestKey(url, this.#fieldsParam));
    const made = this.#requested.get(resource)!;
    const before = made.get(partition);
    if (before === once || (Array.isArray(before) && before.includes(once))) return true;
    made.set(
      partition,
      before === undefined ? once : Array.isArray(before) ? [...before, once] : [before, once],
    );
    return false;
  }

  /**
   * One chain: a listing under one parent record and item, and the chains of its
   * records' children. `listsKeys`: its records are the resource's key listing too.
   * `only`: the listing again from the start, for these records alone (their watched
   * values moved); it moves no cursor. `focus`: how deep each record is needed, below
   * records a change feed named (see {@linkcode Focus}). `unfiltered`: every record,
   * without the incremental filter (`reconcile.listing: records`).
   */
  async #runChain(
    resource: PlannedResource,
    ancestry: Ancestry,
    item: unknown,
    { listsKeys, only, focus, unfiltered = false }: {
      listsKeys: boolean;
      only?: ReadonlySet<string>;
      focus?: Focus;
      unfiltered?: boolean;
    },
  ): Promise<void> {
    if (this.#failure !== undefined) return;
    const s = this.#stats.get(resource.name)!;
    const at = positionOf(this.#plan, resource, ancestry, item);
    const tracker = this.#observer.listing(at, {
      again: only !== undefined,
      listsKeys,
      unfiltered,
    });
    const { url, headers } = buildRequest(
      this.#client,
      this.#plan,
      resource,
      ancestry,
      this.#fieldsParam,
      { start: tracker.start, everything: only !== undefined || unfiltered, item },
    );
    // the same request for the same partition (a task listed by two projects): made once
    if (this.#madeBefore(resource.name, at.partition, url)) {
      s.duplicates++;
      return;
    }
    s.chains++;
    if (s.startedAt === 0) s.startedAt = performance.now();
    try {
      const capped = await this.#readListing(resource, ancestry, at, url, headers, tracker, {
        only,
        focus: focus ?? tracker.focus,
      });
      s.watched += tracker.watched ?? 0;
      if (capped === undefined) return; // the run failed meanwhile
      if (capped) {
        s.capped++;
        tracker.incomplete();
        return;
      }
      tracker.completed();
    } catch (e) {
      skipOrThrow(resource, s, e, this.#client.describeBase());
      tracker.incomplete();
    } finally {
      s.finishedAt = Math.max(s.finishedAt, performance.now());
    }
  }

  /**
   * Reads a chain's pages, hands their records on and spawns their children's chains;
   * resolves with whether `max_pages` capped it (undefined: the run failed meanwhile).
   */
  async #readListing(
    resource: PlannedResource,
    ancestry: Ancestry,
    at: ChainPosition,
    url: URL,
    headers: Record<string, string>,
    tracker: ListingTracker,
    { only, focus }: { only?: ReadonlySet<string>; focus?: Focus },
  ): Promise<boolean | undefined> {
    const s = this.#stats.get(resource.name)!;
    const guard = { capped: false };
    const pages = paginate(this.#client, resource.paginator, resource.records, url, headers, {
      resource: resource.name,
      parentKey: at.parentKey === "" ? undefined : at.parentKey,
      retryStatuses: retryStatusesOf(resource),
    }, { maxPages: resource.maxPages, guard });
    // after a restart, records already seen in this listing are dropped
    const seen = commonSettings(resource.paginator)?.restart_on ? new Set<string>() : undefined;
    let afterRestart = false;
    for await (const page of pages) {
      if (this.#failure !== undefined) return undefined;
      if (page.restarted) {
        afterRestart = true;
        s.restarts++;
      }
      let records = page.records.map((r) => withParentFields(resource, r, ancestry));
      if (only) records = records.filter((r) => only.has(keyOf(resource, r)));
      // records the spec does not keep are as if the API had not listed them
      records = kept(resource, ancestry, records);
      if (seen) {
        records = records.filter((r) => {
          const key = recordKey(resource, r);
          if (seen.has(key)) return !afterRestart;
          seen.add(key);
          return true;
        });
      }
      s.pages++;
      s.rows += records.length;
      recordRows(resource.name, records.length);
      /** Records whose children were loaded with this same version in an earlier run. */
      let unchanged = tracker.page(records);
      /** Records needed only for the children that lead down to a changed record. */
      let leads: Map<ApiRecord, ReadonlySet<string>> | undefined;
      if (focus) {
        const current = new Set(unchanged);
        for (const r of records) {
          const need = focus.need(resource.name, keyOf(resource, r));
          if (need === "current") current.add(r);
          else if (need !== "whole") (leads ??= new Map()).set(r, need);
        }
        unchanged = current;
      }
      await this.#sink(resource, records, at.parentKey);
      if (unchanged) s.unchanged += unchanged.size;
      const below = { unchanged, leads, focus };
      if (!(await this.#spawnChildren(resource, records, ancestry, at.partition, below))) {
        return undefined;
      }
    }
    return guard.capped;
  }

  /** Starts the child chains of a page's records; false when the run failed meanwhile. */
  async #spawnChildren(
    resource: PlannedResource,
    records: readonly ApiRecord[],
    ancestry: Ancestry,
    partition: string,
    { unchanged, leads, focus }: {
      unchanged?: ReadonlySet<ApiRecord>;
      leads?: ReadonlyMap<ApiRecord, ReadonlySet<string>>;
      focus?: Focus;
    },
  ): Promise<boolean> {
    const s = this.#stats.get(resource.name)!;
    const backfill = unchanged || leads ? this.#observer.backfill(resource) : undefined;
    const below = { unchanged, leads, backfill };
    await this.#readChildFeeds(resource, records, ancestry, partition, below);
    for (const name of resource.children) {
      const child = this.#plan.resources.get(name)!;
      for (const record of records) {
        if (this.#failure !== undefined) return false;
        if (!wantsChild(record, name, below)) continue;
        const lead = leads?.get(record);
        const next = [{ resource: resource.name, record, partition }, ...ancestry];
        if (child === resource && isOwnAncestor(this.#plan, resource, record, ancestry)) {
          s.cycles++;
          continue;
        }
        await this.#spawn(child, next, child === resource, lead?.has(name) ? focus : undefined);
      }
    }
    return true;
  }

  /**
   * Reads the change feeds of these records' children first, when they have one: what a
   * feed names decides which of the records' other children are due now (a section the
   * feed names lists its project's sections, whatever `refresh_every` says). A failure
   * fails the run, as it would in the child's chain.
   */
  async #readChildFeeds(
    resource: PlannedResource,
    records: readonly ApiRecord[],
    ancestry: Ancestry,
    partition: string,
    below: Parameters<typeof wantsChild>[2],
  ): Promise<void> {
    const reads: Promise<void>[] = [];
    for (const name of resource.children) {
      const child = this.#plan.resources.get(name)!;
      // a feed read ahead only where its chain runs at every run, with one partition a parent
      if (!hasFeed(child, resource.name) || child.refreshEvery.has(resource.name)) continue;
      if (forEachOf(child, resource.name) !== undefined) continue;
      if (!this.#observer.separateKeyListing(child)) continue; // a first load: it only starts
      for (const record of records) {
        if (!wantsChild(record, name, below)) continue;
        const next = [{ resource: resource.name, record, partition }, ...ancestry];
        reads.push(
          this.#feedOnce(child, next, undefined).catch((e) => {
            this.#failure ??= e;
          }),
        );
      }
    }
    await Promise.all(reads);
  }

  /** A partition's change feed, read once (the first caller reads it, the others wait). */
  #feedOnce(resource: PlannedResource, ancestry: Ancestry, item: unknown): Promise<void> {
    const key = `${resource.name}\u0000${
      positionOf(this.#plan, resource, ancestry, item).partition
    }`;
    let read = this.#feedsRead.get(key);
    if (!read) this.#feedsRead.set(key, read = this.#readFeed(resource, ancestry, item));
    return read;
  }

  /**
   * Reads one partition's change feed from the stored token to its end (`has_more`), or
   * takes the fresh token of an answer that refuses it. A feed that fails (skipped by a
   * status rule), or never ends, tells the run that nothing is known of the changes.
   */
  async #readFeed(resource: PlannedResource, ancestry: Ancestry, item: unknown): Promise<void> {
    const feed = resource.changes!;
    const s = this.#stats.get(resource.name)!;
    const tracker = this.#observer.feed(positionOf(this.#plan, resource, ancestry, item));
    const { url, parentKey, headers } = buildRequest(
      this.#client,
      this.#plan,
      {
        ...resource,
        path: feed.path,
        params: feed.params,
        paramsByParent: new Map(),
        fields: undefined,
      },
      ancestry,
      undefined,
      { item },
    );
    const who = parentKey === undefined ? resource.name : `${resource.name} (parent ${parentKey})`;
    const context = {
      resource: resource.name,
      parentKey,
      accept: new Set([feed.expiredStatus]),
      retryStatuses: retryStatusesOf(resource),
    };
    let token = tracker.token;
    try {
      for (let pages = 1;; pages++) {
        if (this.#failure !== undefined) return;
        const request = new URL(url);
        if (token !== undefined) request.searchParams.set(feed.tokenParam, token);
        const { status, body } = await this.#client.get(request, headers, context);
        const found = getPath(body, feed.tokenPath);
        const next = typeof found === "string" && found !== "" ? found : undefined;
        if (status === feed.expiredStatus) return tracker.refused(next);
        tracker.events(
          selectRecords(body, feed.records ?? "", this.#client.redact(`${request}`)) as ApiRecord[],
        );
        if (next === undefined) {
          throw new ExtractError(
            `${who}: the change feed's answer has no token at ${feed.tokenPath}`,
          );
        }
        const more = feed.hasMorePath !== undefined && getPath(body, feed.hasMorePath) === true;
        if (!more) return tracker.read(next);
        if (next === token || pages >= MAX_FEED_PAGES) {
          // the same token again, or no end: what it says is not all that changed
          s.capped++;
          return tracker.failed();
        }
        token = next;
      }
    } catch (e) {
      tracker.failed();
      skipOrThrow(resource, s, e, this.#client.describeBase());
    }
  }

  /**
   * A key-only listing of a reconciled resource (no incremental filter), beside the
   * partition's own listing (`main`): the records it finds changed without their cursor
   * are listed again once `main` has ended, those `main` loaded whole left out.
   */
  async #listKeys(
    resource: PlannedResource,
    ancestry: Ancestry,
    item: unknown,
    main: Promise<void>,
  ): Promise<void> {
    if (this.#failure !== undefined) return;
    const s = this.#stats.get(resource.name)!;
    const { url, parentKey, headers } = buildRequest(
      this.#client,
      this.#plan,
      resource,
      ancestry,
      this.#fieldsParam,
      { keysOnly: true, item },
    );
    const key = requestKey(url, this.#fieldsParam);
    if (this.#listed.get(resource.name)!.has(key)) return;
    this.#listed.get(resource.name)!.add(key);
    if (s.startedAt === 0) s.startedAt = performance.now();
    // the feed first: what it names is among the records the key listing finds changed
    if (hasFeed(resource, parentOf(ancestry))) {
      await this.#feedOnce(resource, ancestry, item);
    }
    if (this.#failure !== undefined) return;
    const guard = { capped: false };
    const tracker = this.#observer.keyListing(positionOf(this.#plan, resource, ancestry, item));
    try {
      for await (
        const page of paginate(
          this.#client,
          resource.paginator,
          resource.records,
          url,
          headers,
          { resource: resource.name, parentKey },
          { maxPages: resource.maxPages, guard },
        )
      ) {
        if (this.#failure !== undefined) return;
        tracker.page(kept(resource, ancestry, page.records as ApiRecord[]));
      }
      if (guard.capped) tracker.incomplete();
    } catch (e) {
      tracker.incomplete();
      skipOrThrow(resource, s, e, this.#client.describeBase());
    } finally {
      s.finishedAt = Math.max(s.finishedAt, performance.now());
    }
    // records that changed though their cursor did not (a key new to the table, watched
    // values that moved): listed again whole, unless the partition's listing loaded them
    await main.then(() => {}, () => {});
    const { keys, focus } = tracker.changed();
    if (keys.size > 0 && this.#failure === undefined) {
      s.watched += keys.size;
      await this.#runChain(resource, ancestry, item, { listsKeys: false, only: keys, focus });
    }
  }
}

/** Pages a change feed may return in one run before it counts as endless. */
export const MAX_FEED_PAGES = 1000;

/** The statuses a resource's status rules retry. */
function retryStatusesOf(resource: PlannedResource): Set<number> {
  return new Set(
    Object.entries(resource.onStatus).filter(([, a]) => a === "retry").map(([c]) => Number(c)),
  );
}

/** Is this record of a recursive resource already among its own ancestors? */
function isOwnAncestor(
  plan: Plan,
  resource: PlannedResource,
  record: ApiRecord,
  ancestry: Ancestry,
): boolean {
  if (resource.primaryKey.length === 0) return false;
  const key = keyOf(resource, record);
  // the parents of a union share one key space (the primary key deduplicates across them)
  return ancestry.some((a) =>
    resource.parents.includes(a.resource) &&
    keyOf(plan.resources.get(a.resource)!, a.record) === key
  );
}

/** A request that failed: counted when a status rule skips its status, else thrown. */
function skipOrThrow(
  resource: PlannedResource,
  s: ResourceStats,
  e: unknown,
  base: string,
): void {
  if (e instanceof HttpError && resource.parents.length === 0) {
    throw new RootListingError(resource, e, base);
  }
  if (!(e instanceof HttpError) || resource.onStatus[String(e.status)] !== "skip") throw e;
  const entry = s.skipped.get(e.status) ?? { count: 0, example: e.message };
  entry.count++;
  s.skipped.set(e.status, entry);
}
