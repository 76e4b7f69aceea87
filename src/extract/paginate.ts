/**
 * Paginators: follow a listing to its last page.
 *
 * @module
 */
import type { Paginator } from "../spec/schema.ts";
import { getPath } from "../plan/template.ts";
import type { HttpClient, HttpResponse, RequestContext } from "./http.ts";

/** One page of a listing. */
export interface Page {
  records: unknown[];
  response: HttpResponse;
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

/** Requests `url` and every following page, yielding each page's records. */
export async function* paginate(
  client: HttpClient,
  paginator: Paginator,
  recordsPath: string,
  url: URL,
  headers: Record<string, string>,
  context: RequestContext,
): AsyncGenerator<Page> {
  let next: URL | undefined = new URL(url);
  let page = paginator.type === "page_number" ? paginator.base_page : 0;
  let offset = 0;
  if (paginator.type === "page_number") next.searchParams.set(paginator.page_param, String(page));
  if (paginator.type === "offset") {
    next.searchParams.set(paginator.limit_param, String(paginator.limit));
    next.searchParams.set(paginator.offset_param, "0");
  }
  while (next) {
    const response = await client.get(next, headers, context);
    const records = selectRecords(response.body, recordsPath, client.redact(next.toString()));
    yield { records, response };
    const current: URL = next;
    next = undefined;
    switch (paginator.type) {
      case "single":
        break;
      case "cursor": {
        const cursor = getPath(response.body, paginator.cursor_path);
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
        const total = paginator.total_path
          ? Number(getPath(response.body, paginator.total_path))
          : NaN;
        const more = Number.isFinite(total) ? offset < total : records.length >= paginator.limit;
        if (more && records.length > 0) {
          next = new URL(current);
          next.searchParams.set(paginator.offset_param, String(offset));
        }
        break;
      }
      case "page_number": {
        page++;
        const total = paginator.total_pages_path
          ? Number(getPath(response.body, paginator.total_pages_path))
          : NaN;
        const last = paginator.base_page + (Number.isFinite(total) ? total : Infinity) - 1;
        if (records.length > 0 && page <= last) {
          next = new URL(current);
          next.searchParams.set(paginator.page_param, String(page));
        }
        break;
      }
    }
  }
}
