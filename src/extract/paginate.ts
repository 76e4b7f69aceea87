/**
 * The pagination driver: follows a listing to its last page with the paginator its
 * spec names (`connect/paginators/`), and holds the guards every type shares: a URL,
 * cursor or page served twice is a loop, endless empty pages stop, an expired page
 * token restarts the listing, `max_pages` caps it.
 *
 * @module
 */
import { commonSettings, type Paginator, paginatorOf } from "../connect/paginators/mod.ts";
import { getPath } from "../core/paths.ts";
import { stringifyJson } from "../core/json.ts";
import { type HttpClient, HttpError, type HttpResponse, type RequestContext } from "./http.ts";

/** One page of a listing. */
export interface Page {
  records: unknown[];
  response: HttpResponse;
  /** True on the first page after the listing was restarted (records may repeat). */
  restarted: boolean;
}

/** How often one listing may start again before its error fails the run. */
export const MAX_RESTARTS = 10;

/** Bounds on one listing. */
export interface ListingLimits {
  /** Stop after this many pages; the listing then counts as incomplete. */
  maxPages?: number;
  /** Set to true when the listing stopped at `maxPages` with more pages to go. */
  guard?: { capped: boolean };
}

/** A listing that would never end: its paginator repeats a URL, a cursor or a page. */
export class PaginationLoopError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PaginationLoopError";
  }
}

function isRestart(paginator: Paginator, error: unknown): boolean {
  const rule = commonSettings(paginator)?.restart_on;
  if (!rule || !(error instanceof HttpError)) return false;
  return error.status === rule.status &&
    (rule.message === undefined || (error.apiMessage ?? "").includes(rule.message));
}

/** The records at `path` in a body: a list, or one object as a list of one. */
export function selectRecords(body: unknown, path: string, url: string): unknown[] {
  const found = getPath(body, path);
  if (Array.isArray(found)) return found;
  if (typeof found === "object" && found !== null) return [found];
  if (found === undefined || found === null) {
    throw new Error(
      `GET ${url}: the response has no records at "${path || "(the body)"}"; ` +
        `set records: to where the list sits`,
    );
  }
  throw new Error(`GET ${url}: expected a list at "${path}", got ${typeof found}`);
}

/** Empty pages in a row after which a listing that does not stop on them fails. */
export const MAX_EMPTY_PAGES = 25;

/** Requests `url` and every following page, yielding each page's records. */
export async function* paginate(
  client: HttpClient,
  paginator: Paginator,
  recordsPath: string,
  url: URL,
  headers: Record<string, string>,
  context: RequestContext,
  limits: ListingLimits = {},
): AsyncGenerator<Page> {
  const type = paginatorOf(paginator);
  const common = commonSettings(paginator);
  let cursor = type.cursor(paginator);
  const first = new URL(url);
  cursor.first(first);
  let next: URL | undefined = new URL(first);
  const maxPages = Math.min(limits.maxPages ?? Infinity, common?.max_pages ?? Infinity);
  const stopOnEmpty = common?.stop_after_empty_page ?? type.stopsOnEmptyPage;
  let restarts = 0;
  let restarted = false;
  /** URLs requested since the listing (re)started: one requested twice means a loop. */
  let visited = new Set<string>();
  let previousPage: string | undefined;
  let pages = 0;
  let emptyPages = 0;
  const who = context.parentKey === undefined
    ? context.resource
    : `${context.resource} (parent ${context.parentKey})`;
  while (next) {
    if (visited.has(next.href)) {
      throw new PaginationLoopError(
        `${who}: the ${paginator.type} paginator asked for ${
          client.redact(next.toString())
        } a second time in one listing; stopping instead of looping forever (check the paginator settings)`,
      );
    }
    visited.add(next.href);
    let response: HttpResponse;
    try {
      response = await client.get(
        next,
        headers,
        restarts > 0 ? { ...context, fresh: true } : context,
      );
    } catch (e) {
      // an expired page token: start again from the first page (asking the API, not a
      // checkpoint, whose first page would lead to the same expired token)
      if (next.href !== first.href && restarts < MAX_RESTARTS && isRestart(paginator, e)) {
        restarts++;
        restarted = true;
        visited = new Set();
        previousPage = undefined;
        next = new URL(first);
        cursor = type.cursor(paginator);
        continue;
      }
      throw e;
    }
    const records = selectRecords(response.body, recordsPath, client.redact(next.toString()));
    if (common) {
      // an API that ignores the page parameter answers every page with the first one
      const fingerprint = pageFingerprint(records);
      if (fingerprint !== undefined && fingerprint === previousPage) {
        throw new PaginationLoopError(
          `${who}: GET ${
            client.redact(next.toString())
          } returned the same records as the page before; stopping instead of looping forever (does the API honour ${
            type.advances(paginator)
          }?)`,
        );
      }
      previousPage = fingerprint;
    }
    pages++;
    yield { records, response, restarted };
    restarted = false;
    const current: URL = next;
    next = undefined;
    if (!common) break;
    // the API says this was the last page, or an empty page ends the listing
    if (common.has_more_path !== undefined) {
      const more = getPath(response.body, common.has_more_path);
      if (more === false || more === "false" || more === 0) break;
    }
    if (records.length === 0 && stopOnEmpty) break;
    emptyPages = records.length === 0 ? emptyPages + 1 : 0;
    if (emptyPages > MAX_EMPTY_PAGES) {
      throw new PaginationLoopError(
        `${who}: ${emptyPages} empty pages in a row, the last at ${
          client.redact(current.toString())
        }; stopping instead of paging on forever (set max_pages, or check has_more_path)`,
      );
    }
    next = cursor.next(current, response, records);
    if (next && pages >= maxPages) {
      if (limits.guard) limits.guard.capped = true;
      return;
    }
  }
}

/**
 * What identifies a page cheaply (taken before its records are handed on and enriched):
 * its size and its first and last records. Two pages of one listing that agree on these
 * are the same page served again.
 */
function pageFingerprint(records: unknown[]): string | undefined {
  if (records.length === 0) return undefined;
  return `${records.length}\u0000${stringifyJson(records[0])}\u0000${
    stringifyJson(records[records.length - 1])
  }`;
}
