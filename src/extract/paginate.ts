/**
 * Paginators: follow a listing to its last page.
 *
 * @module
 */
import type { Paginator } from "../spec/schema.ts";
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
  if (paginator.type === "single" || !paginator.restart_on || !(error instanceof HttpError)) {
    return false;
  }
  const rule = paginator.restart_on;
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

function nextLink(header: string | null, rel: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = part.match(/<([^>]+)>\s*;(.*)/);
    if (m && new RegExp(`rel="?([^"]*\\s)?${rel}(\\s[^"]*)?"?`).test(m[2])) return m[1];
  }
  return undefined;
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
  let next: URL | undefined = new URL(url);
  let page = paginator.type === "page_number" ? paginator.base_page : 0;
  let offset = 0;
  if (paginator.type === "page_number") {
    next.searchParams.set(paginator.page_param, String(page));
    if (paginator.limit !== undefined) {
      next.searchParams.set(paginator.limit_param, String(paginator.limit));
    }
  }
  if (paginator.type === "offset") setOffset(next, paginator, 0);
  const maxPages = Math.min(
    limits.maxPages ?? Infinity,
    paginator.type === "single" ? Infinity : paginator.max_pages ?? Infinity,
  );
  const first = new URL(next);
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
      response = await client.get(next, headers, context);
    } catch (e) {
      // an expired page token: start again from the first page
      if (next.href !== first.href && restarts < MAX_RESTARTS && isRestart(paginator, e)) {
        restarts++;
        restarted = true;
        visited = new Set();
        previousPage = undefined;
        next = new URL(first);
        page = paginator.type === "page_number" ? paginator.base_page : 0;
        offset = 0;
        continue;
      }
      throw e;
    }
    const records = selectRecords(response.body, recordsPath, client.redact(next.toString()));
    if (paginator.type !== "single") {
      // an API that ignores the page parameter answers every page with the first one
      const fingerprint = pageFingerprint(records);
      if (fingerprint !== undefined && fingerprint === previousPage) {
        throw new PaginationLoopError(
          `${who}: GET ${
            client.redact(next.toString())
          } returned the same records as the page before; stopping instead of looping forever (does the API honour ${
            pageParam(paginator)
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
    if (paginator.type === "single") break;
    // the API says this was the last page, or an empty page ends the listing
    if (paginator.has_more_path !== undefined) {
      const more = getPath(response.body, paginator.has_more_path);
      if (more === false || more === "false" || more === 0) break;
    }
    const stopOnEmpty = paginator.stop_after_empty_page ??
      (paginator.type === "offset" || paginator.type === "page_number");
    if (records.length === 0 && stopOnEmpty) break;
    emptyPages = records.length === 0 ? emptyPages + 1 : 0;
    if (emptyPages > MAX_EMPTY_PAGES) {
      throw new PaginationLoopError(
        `${who}: ${emptyPages} empty pages in a row, the last at ${
          client.redact(current.toString())
        }; stopping instead of paging on forever (set max_pages, or check has_more_path)`,
      );
    }
    switch (paginator.type) {
      case "cursor": {
        const cursor = paginator.cursor_header !== undefined
          ? response.headers.get(paginator.cursor_header)
          : getPath(response.body, paginator.cursor_path);
        if (cursor !== undefined && cursor !== null && cursor !== "") {
          next = new URL(current);
          next.searchParams.set(paginator.cursor_param, String(cursor));
        }
        break;
      }
      case "next_url": {
        const link = getPath(response.body, paginator.next_url_path);
        if (typeof link === "string" && link !== "") next = new URL(link, current);
        break;
      }
      case "link_header": {
        const link = nextLink(response.headers.get("link"), paginator.rel);
        if (link) next = new URL(link, current);
        break;
      }
      case "offset": {
        offset += paginator.limit;
        const total = totalOf(response, paginator.total_path, paginator.total_header);
        const more = total !== undefined
          ? offset < total
          : paginator.has_more_path !== undefined || records.length >= paginator.limit;
        if (more) {
          next = new URL(current);
          setOffset(next, paginator, offset);
        }
        break;
      }
      case "page_number": {
        page++;
        const recordTotal = totalOf(response, paginator.total_path, paginator.total_header);
        const pagesTotal = paginator.total_pages_path
          ? Number(getPath(response.body, paginator.total_pages_path))
          : recordTotal !== undefined && paginator.limit !== undefined
          ? Math.ceil(recordTotal / paginator.limit)
          : NaN;
        const last = paginator.base_page + (Number.isFinite(pagesTotal) ? pagesTotal : Infinity) -
          1;
        if (page <= last) {
          next = new URL(current);
          next.searchParams.set(paginator.page_param, String(page));
        }
        break;
      }
    }
    if (next && pages >= maxPages) {
      if (limits.guard) limits.guard.capped = true;
      return;
    }
  }
}

/** Sets an offset paginator's parameters: offset and limit, or offset and end index. */
function setOffset(url: URL, p: Extract<Paginator, { type: "offset" }>, offset: number): void {
  url.searchParams.set(p.offset_param, String(offset));
  if (p.end_param !== undefined) url.searchParams.set(p.end_param, String(offset + p.limit));
  else url.searchParams.set(p.limit_param, String(p.limit));
}

/** A total count from a body path or a response header, when the API gives one. */
function totalOf(
  response: HttpResponse,
  path: string | undefined,
  header: string | undefined,
): number | undefined {
  const raw = header !== undefined
    ? response.headers.get(header)
    : path !== undefined
    ? getPath(response.body, path)
    : undefined;
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

function pageParam(paginator: Paginator): string {
  switch (paginator.type) {
    case "offset":
      return paginator.offset_param;
    case "page_number":
      return paginator.page_param;
    case "cursor":
      return paginator.cursor_param;
    default:
      return "its next-page link";
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
