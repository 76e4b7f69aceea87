/**
 * Fan-out: runs every resource's request chains, starting a child's chains as soon
 * as a parent page arrives, and hands each page of records to a sink.
 *
 * @module
 */
import type { Plan, PlannedResource } from "../plan/plan.ts";
import { getPath } from "../core/paths.ts";
import { placeholders, render } from "../spec/template.ts";
import { INCREMENTAL, ITEM } from "../spec/graph.ts";
import { type HttpClient, HttpError } from "./http.ts";
import { stringifyJson } from "../core/json.ts";
import { canonicalKey, canonicalValue, hash53, watchHash } from "../core/keys.ts";
import { type ChainPosition, compareCursors, partitionOf, RunLedger } from "../run/ledger.ts";
import { paginate } from "./paginate.ts";
import { evaluatePredicate } from "../spec/predicate.ts";

/** A record of a resource as the API returned it. */
export type ApiRecord = Record<string, unknown>;

/**
 * The ancestor records of a request chain, nearest first, each with the partition
 * (parent key and `for_each` item) of the chain that returned it.
 */
export type Ancestry = readonly { resource: string; record: ApiRecord; partition: string }[];

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
   * Records whose `reconcile.watch` values differ from their stored row: listed again
   * whole, with their children.
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

/** What a run saw: counters, and the ledger of evidence the commit may act on. */
export interface ExtractResult {
  stats: Map<string, ResourceStats>;
  /** Completed and incomplete chains, key listings: what may be deleted, where cursors move. */
  ledger: RunLedger;
}

/** Options for {@linkcode extract}. */
export interface ExtractOptions {
  /** Query parameter receiving `fields` (e.g. Asana's `opt_fields`). */
  fieldsParam?: string;
  /** Chains of one resource waiting or running at once before parents wait (default 64). */
  pendingChains?: number;
  /** The stored cursor of an incremental resource's partition, if any. */
  cursor?: (resource: string, partition: string) => string | undefined;
  /** Called once at the start with the live result, whose stats grow as the run goes. */
  onStart?: (live: ExtractResult) => void;
  /**
   * Does the destination hold cursors of this resource from an earlier load? When it
   * does not, a reconciled resource's listings start from `initial` and list every key
   * themselves: no separate key-only listing is made.
   */
  loadedBefore?: (resource: string) => boolean;
  /** The records at a partition's cursor when it last moved (key → cursor value). */
  boundary?: (resource: string, partition: string) => Record<string, string> | undefined;
  /**
   * The stored rows' `reconcile.watch` values of a resource, hashed by record key
   * (`watchHash`); undefined when there is nothing to compare with.
   */
  watched?: (resource: string) => ReadonlyMap<string, number> | undefined;
  /** Is this resource's listing under this parent resource (`""`: none) not due yet? */
  deferred?: (resource: string, parent: string) => boolean;
}

/** A record's primary key in its canonical text form (also a child's parent key). */
export function keyOf(resource: PlannedResource, record: ApiRecord): string {
  return canonicalKey(resource.primaryKey.map((k) => getPath(record, k)));
}

/** A runtime problem not tied to one HTTP response (a missing placeholder value…). */
export class ExtractError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ExtractError";
  }
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

/** Where a chain of `resource` for this ancestry and `for_each` item sits, for the ledger. */
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

/** The `for_each` elements of a chain (one `undefined` when the resource has none). */
function itemsOf(resource: PlannedResource, ancestry: Ancestry): unknown[] | typeof MISSING {
  const each = resource.forEach;
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
  /** Creates the error from the request's failure. */
  constructor(resource: PlannedResource, cause: HttpError, origin: string) {
    const skipped = resource.onStatus[String(cause.status)] === "skip";
    super(
      `${cause.message}${
        skipped
          ? ` (a status rule skips ${cause.status}, but ${resource.name} ` +
            `has no parent: without it the run would not know what the API holds)`
          : ""
      }\n` +
        (HINTED.has(cause.status)
          ? `hint: check source.base_url (requests go to ${origin}) and that the token can ` +
            `read ${resource.path}`
          : ""),
    );
    this.name = "RootListingError";
  }
}

/** Runs the plan's requests; resolves with per-resource stats, or rejects with the first failure. */
export async function extract(
  plan: Plan,
  client: HttpClient,
  sink: PageSink,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const stats = new Map<string, ResourceStats>();
  const ledger = new RunLedger(plan);
  const result: ExtractResult = { stats, ledger };
  /**
   * Requests already made, per resource and partition: 53-bit hashes of their URLs (a
   * chain is made once per distinct request). The partition is the parent key's own
   * string, so an entry costs a number, not a copy of the URL: at 100k tasks the URLs
   * took 30 MB. Two requests of one partition would have to share a hash to be confused
   * (a chance of about k² in 2^54 for k requests in a partition).
   */
  const requested = new Map<string, Map<string, number | number[]>>();
  const listed = new Map<string, Set<string>>();
  for (const name of plan.order) {
    requested.set(name, new Map());
    listed.set(name, new Set());
  }
  options.onStart?.(result);
  const gates = new Map<string, Gate>();
  for (const name of plan.order) {
    stats.set(name, {
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
    });
    gates.set(name, new Gate(options.pendingChains ?? 64));
  }
  const running = new Set<Promise<void>>();
  let failure: unknown;

  const spawn = async (resource: PlannedResource, ancestry: Ancestry, recursive = false) => {
    const gate = gates.get(resource.name)!;
    if (options.deferred?.(resource.name, ancestry[0]?.resource ?? "")) {
      // not due (refresh_every): its rows, and those of its descendants, stay as they are
      ledger.chainsDeferred(resource.name);
      return;
    }
    const when = ancestry.length > 0 ? resource.when.get(ancestry[0].resource) : undefined;
    const needed = when === undefined || evaluatePredicate(when, ancestry[0].record) !== false;
    // keys come from the listings themselves on a first load (they start from `initial`)
    const keysFromChains = resource.reconcile && !(options.loadedBefore?.(resource.name) ?? true);
    const items = itemsOf(resource, ancestry);
    if (items === MISSING) {
      // no evidence of what the list holds: nothing below this parent may be deleted
      stats.get(resource.name)!.missingForEach++;
      ledger.chainIncomplete(positionOf(plan, resource, ancestry, undefined));
      return;
    }
    // an empty list (or null) says the parent has none: a complete listing of nothing
    if (items.length === 0) {
      ledger.chainCompleted(positionOf(plan, resource, ancestry, undefined), undefined);
    }
    for (const item of items) {
      if (failure !== undefined) return;
      if (!needed) {
        // the parent says the listing is empty: a complete listing of nothing
        stats.get(resource.name)!.avoided++;
        ledger.chainCompleted(positionOf(plan, resource, ancestry, item), undefined);
        continue;
      }
      if (recursive) gate.enterNow();
      else await gate.enter();
      const chains = [runChain(resource, ancestry, item, keysFromChains)];
      if (resource.reconcile && !keysFromChains) chains.push(listKeys(resource, ancestry, item));
      const task: Promise<void> = Promise.all(chains)
        .then(() => {})
        .catch((e) => {
          failure ??= e;
        })
        .finally(() => {
          gate.leave();
          running.delete(task);
        });
      running.add(task);
    }
  };

  const runChain = async (
    resource: PlannedResource,
    ancestry: Ancestry,
    item: unknown,
    listsKeys: boolean,
    only?: ReadonlySet<string>,
  ) => {
    if (failure !== undefined) return;
    const s = stats.get(resource.name)!;
    const at = positionOf(plan, resource, ancestry, item);
    const { parentKey, partition } = at;
    // `only`: the listing again from the start, for these records alone; it moves no cursor
    const stored = resource.incremental && !only
      ? options.cursor?.(resource.name, partition) ?? resource.incremental.initial
      : undefined;
    const { url, headers } = buildRequest(client, plan, resource, ancestry, options.fieldsParam, {
      start: stored === undefined ? undefined : lagged(stored, resource.incremental!.lag_seconds),
      everything: only !== undefined,
      item,
    });
    // the same request for the same partition (a task listed by two projects): made once
    const once = hash53(requestKey(url, options.fieldsParam));
    const made = requested.get(resource.name)!;
    const before = made.get(partition);
    if (before === once || (Array.isArray(before) && before.includes(once))) {
      s.duplicates++;
      return;
    }
    made.set(
      partition,
      before === undefined ? once : Array.isArray(before) ? [...before, once] : [before, once],
    );
    s.chains++;
    if (s.startedAt === 0) s.startedAt = performance.now();
    let cursor = stored;
    const inc = only ? undefined : resource.incremental;
    const seenBefore = inc && stored !== undefined
      ? options.boundary?.(resource.name, partition)
      : undefined;
    /** Records near the greatest cursor value so far: the next run's boundary. */
    let boundary = new Map<string, string>();
    const children = resource.children.map((c) => plan.resources.get(c)!);
    const retryStatuses = new Set(
      Object.entries(resource.onStatus).filter(([, a]) => a === "retry").map(([c]) => Number(c)),
    );
    const guard = { capped: false };
    const pages = paginate(client, resource.paginator, resource.records, url, headers, {
      resource: resource.name,
      parentKey: parentKey === "" ? undefined : parentKey,
      retryStatuses,
    }, { maxPages: resource.maxPages, guard });
    // after a restart, records already seen in this listing are dropped
    const seen = resource.paginator.type !== "single" && resource.paginator.restart_on
      ? new Set<string>()
      : undefined;
    let afterRestart = false;
    try {
      for await (const page of pages) {
        if (failure !== undefined) return;
        if (page.restarted) {
          afterRestart = true;
          s.restarts++;
        }
        let records = page.records.map((r) => withParentFields(resource, r, ancestry));
        if (only) records = records.filter((r) => only.has(keyOf(resource, r)));
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
        /** Records whose children were loaded with this same version in an earlier run. */
        let unchanged: Set<ApiRecord> | undefined;
        if (inc) {
          for (const r of records) {
            const value = cursorValue(r, inc.cursor);
            if (value === undefined) continue;
            if (cursor === undefined || compareCursors(value, cursor) > 0) cursor = value;
            if (resource.primaryKey.length === 0) continue;
            const key = keyOf(resource, r);
            boundary.set(key, value);
            if (seenBefore?.[key] === value) (unchanged ??= new Set()).add(r);
          }
          if (boundary.size > 256 && cursor !== undefined) {
            boundary = nearCursor(boundary, cursor, inc.lag_seconds);
          }
        }
        if (listsKeys) {
          ledger.keysListed(
            resource.name,
            records.map((r) => keyOf(resource, r)),
            true,
          );
        }
        await sink(resource, records, parentKey);
        if (unchanged) s.unchanged += unchanged.size;
        for (const child of children) {
          for (const record of records) {
            if (failure !== undefined) return;
            if (unchanged?.has(record)) continue;
            const next = [{ resource: resource.name, record, partition }, ...ancestry];
            if (child === resource && isOwnAncestor(plan, resource, record, ancestry)) {
              s.cycles++;
              continue;
            }
            await spawn(child, next, child === resource);
          }
        }
      }
      if (guard.capped) {
        s.capped++;
        ledger.chainIncomplete(at);
        if (listsKeys) ledger.keysListed(resource.name, [], false);
        return;
      }
      // a listing again for some records proves nothing about the others
      if (only) return;
      ledger.chainCompleted(
        at,
        cursor,
        inc && cursor !== undefined
          ? Object.fromEntries(nearCursor(boundary, cursor, inc.lag_seconds))
          : undefined,
      );
    } catch (e) {
      if (listsKeys) ledger.keysListed(resource.name, [], false);
      skipOrThrow(resource, s, e, client.origin);
      ledger.chainIncomplete(at);
    } finally {
      s.finishedAt = Math.max(s.finishedAt, performance.now());
    }
  };

  /** A key-only listing of a reconciled resource (no incremental filter). */
  const listKeys = async (resource: PlannedResource, ancestry: Ancestry, item: unknown) => {
    if (failure !== undefined) return;
    const s = stats.get(resource.name)!;
    const { url, parentKey, headers } = buildRequest(
      client,
      plan,
      resource,
      ancestry,
      options.fieldsParam,
      {
        keysOnly: true,
        item,
      },
    );
    const key = requestKey(url, options.fieldsParam);
    if (listed.get(resource.name)!.has(key)) return;
    listed.get(resource.name)!.add(key);
    if (s.startedAt === 0) s.startedAt = performance.now();
    const guard = { capped: false };
    // records whose watched values moved though their cursor did not
    const stored = resource.reconcileWatch.length > 0
      ? options.watched?.(resource.name)
      : undefined;
    const changed = new Set<string>();
    try {
      for await (
        const page of paginate(
          client,
          resource.paginator,
          resource.records,
          url,
          headers,
          { resource: resource.name, parentKey },
          { maxPages: resource.maxPages, guard },
        )
      ) {
        if (failure !== undefined) return;
        const keys = page.records.map((r) => keyOf(resource, r as ApiRecord));
        ledger.keysListed(resource.name, keys, true);
        if (!stored) continue;
        page.records.forEach((r, i) => {
          const was = stored.get(keys[i]);
          if (was === undefined) return;
          const values = resource.reconcileWatch.map((f) => getPath(r, f));
          // a field the API left out says nothing (null is a value; absent is not)
          if (values.includes(undefined)) return;
          if (was !== watchHash(values)) changed.add(keys[i]);
        });
      }
      if (guard.capped) ledger.keysListed(resource.name, [], false);
    } catch (e) {
      ledger.keysListed(resource.name, [], false);
      skipOrThrow(resource, s, e, client.origin);
    } finally {
      s.finishedAt = Math.max(s.finishedAt, performance.now());
    }
    if (changed.size > 0 && failure === undefined) {
      s.watched += changed.size;
      await runChain(resource, ancestry, item, false, changed);
    }
  };

  for (const name of plan.order) {
    const r = plan.resources.get(name)!;
    if (r.parents.length === 0) await spawn(r, []);
  }
  while (running.size > 0) await Promise.all([...running]);
  if (failure !== undefined) throw failure;
  return result;
}

/**
 * A request as the dedupe sets keep it: path and query without the field list, which is
 * the same for every request of a resource and often the longest part of a URL.
 */
function requestKey(url: URL, fieldsParam: string | undefined): string {
  if (fieldsParam === undefined || !url.searchParams.has(fieldsParam)) {
    return url.pathname + url.search;
  }
  const u = new URL(url);
  u.searchParams.delete(fieldsParam);
  return u.pathname + u.search;
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

function skipOrThrow(
  resource: PlannedResource,
  s: ResourceStats,
  e: unknown,
  origin: string,
): void {
  if (e instanceof HttpError && resource.parents.length === 0) {
    throw new RootListingError(resource, e, origin);
  }
  if (!(e instanceof HttpError) || resource.onStatus[String(e.status)] !== "skip") throw e;
  const entry = s.skipped.get(e.status) ?? { count: 0, example: e.message };
  entry.count++;
  s.skipped.set(e.status, entry);
}

/** A record's cursor value in canonical text, if it has one. */
function cursorValue(record: ApiRecord, path: string): string | undefined {
  const raw = getPath(record, path);
  if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "bigint") {
    return undefined;
  }
  return canonicalValue(raw);
}

/** The entries whose cursor value the next listing returns again: at least the lagged cursor. */
function nearCursor(
  entries: Map<string, string>,
  cursor: string,
  lagSeconds: number,
): Map<string, string> {
  const from = lagged(cursor, lagSeconds);
  return new Map([...entries].filter(([, v]) => compareCursors(v, from) >= 0));
}

/** The cursor less the lag, when it is an instant. */
function lagged(cursor: string, lagSeconds: number): string {
  const t = Date.parse(cursor);
  return lagSeconds === 0 || Number.isNaN(t)
    ? cursor
    : new Date(t - lagSeconds * 1000).toISOString();
}

function recordKey(resource: PlannedResource, record: ApiRecord): string {
  if (resource.primaryKey.length === 0) return stringifyJson(record);
  return keyOf(resource, record);
}

function withParentFields(resource: PlannedResource, raw: unknown, ancestry: Ancestry): ApiRecord {
  const record: ApiRecord = typeof raw === "object" && raw !== null && !Array.isArray(raw)
    ? raw as ApiRecord
    : { value: raw };
  const parent = ancestry[0]?.record;
  for (const [column, path] of Object.entries(resource.includeFromParent)) {
    record[column] = parent === undefined ? null : getPath(parent, path) ?? null;
  }
  return record;
}

/** The first request of a chain: path and params filled from the ancestors' records. */
export function buildRequest(
  client: HttpClient,
  plan: Plan,
  resource: PlannedResource,
  ancestry: Ancestry,
  fieldsParam: string | undefined,
  incremental: { start?: string; keysOnly?: boolean; everything?: boolean; item?: unknown } = {},
): { url: URL; parentKey: string | undefined; headers: Record<string, string> } {
  const parent = ancestry[0];
  const parentPlan = parent ? plan.resources.get(parent.resource) : undefined;
  const parentKey = parent && parentPlan && parentPlan.primaryKey.length > 0
    ? keyOf(parentPlan, parent.record)
    : undefined;
  const resolve = (name: string, field: string): string => {
    if (name === INCREMENTAL && incremental.start !== undefined) return incremental.start;
    const source = name === ITEM
      ? { resource: ITEM, record: incremental.item }
      : name === "parent"
      ? parent
      : ancestry.find((a) => a.resource === name);
    const value = source ? getPath(source.record, field) : undefined;
    if (value === undefined || value === null || typeof value === "object") {
      const who = parentKey === undefined
        ? resource.name
        : `${resource.name} (parent ${parentKey})`;
      throw new ExtractError(
        `${who}: placeholder {${name}${field ? `.${field}` : ""}} has no ${
          value === undefined || value === null ? "value" : "scalar value"
        } in the ${source?.resource ?? name} record`,
      );
    }
    return String(value);
  };
  const url = client.resolve(render(resource.path, resolve, encodeURIComponent));
  const withIncremental = (value: string) => value.includes(`{${INCREMENTAL}.`);
  for (const [k, value] of Object.entries(resource.params)) {
    const values = Array.isArray(value) ? value : [value];
    // a key-only listing, or one of every record, leaves the incremental filter out
    const unfiltered = incremental.keysOnly || incremental.everything;
    if (unfiltered && values.some((x) => typeof x === "string" && withIncremental(x))) {
      continue;
    }
    url.searchParams.delete(k);
    for (const x of values) {
      url.searchParams.append(k, typeof x === "string" ? render(x, resolve) : String(x));
    }
  }
  const fields = incremental.keysOnly
    ? [...new Set([...resource.reconcileFields ?? resource.primaryKey, ...resource.reconcileWatch])]
    : resource.fields;
  if (fieldsParam && fields && fields.length > 0) {
    url.searchParams.set(fieldsParam, fields.join(","));
  }
  const headers = Object.fromEntries(
    Object.entries(resource.headers).map(([k, value]) => [k, render(value, resolve)]),
  );
  return { url, parentKey, headers };
}
