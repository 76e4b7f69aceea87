/**
 * Each paginator type on canned responses, in milliseconds: no server, no driver.
 * The driver's guards (loops, restarts, max_pages) are tested in tests/paginate_test.ts
 * and tests/bounds_test.ts against real HTTP.
 */
import assert from "node:assert/strict";
import * as v from "valibot";
import { type Paginator, paginatorOf, PAGINATORS, PaginatorSchema } from "./mod.ts";
import { nextLink } from "./link_header.ts";

const parse = (settings: unknown): Paginator => v.parse(PaginatorSchema, settings);
const response = (body: unknown, headers: Record<string, string> = {}) => ({
  body,
  headers: new Headers(headers),
});

/** Walks a listing over canned pages: the URLs asked for, in order. */
function walk(settings: unknown, pages: { body: unknown; headers?: Record<string, string> }[]) {
  const p = parse(settings);
  const cursor = paginatorOf(p).cursor(p);
  let url: URL | undefined = new URL("https://api.test/items?q=1");
  cursor.first(url);
  const asked: string[] = [];
  for (const page of pages) {
    if (!url) break;
    asked.push(url.pathname + url.search);
    const records = Array.isArray(page.body) ? page.body : (page.body as { data?: unknown[] }).data;
    url = cursor.next(url, response(page.body, page.headers), records ?? []);
  }
  return { asked, done: url === undefined };
}

Deno.test("cursor: the token from the body goes back in cursor_param; none ends", () => {
  const r = walk({ type: "cursor", cursor_path: "next_page.offset", cursor_param: "offset" }, [
    { body: { data: [1], next_page: { offset: "a" } } },
    { body: { data: [2], next_page: { offset: "b" } } },
    { body: { data: [3], next_page: null } },
  ]);
  assert.deepEqual(r.asked, ["/items?q=1", "/items?q=1&offset=a", "/items?q=1&offset=b"]);
  assert.equal(r.done, true);
});

Deno.test("cursor: from a header, and an empty token ends", () => {
  const r = walk({ type: "cursor", cursor_header: "x-next", cursor_param: "after" }, [
    { body: [1], headers: { "x-next": "t2" } },
    { body: [2], headers: { "x-next": "" } },
  ]);
  assert.deepEqual(r.asked, ["/items?q=1", "/items?q=1&after=t2"]);
  assert.equal(r.done, true);
});

Deno.test("next_url: absolute and relative links; none ends", () => {
  const r = walk({ type: "next_url", next_url_path: "links.next" }, [
    { body: { data: [1], links: { next: "https://api.test/items?page=2" } } },
    { body: { data: [2], links: { next: "/items?page=3" } } },
    { body: { data: [3], links: { next: "" } } },
  ]);
  assert.deepEqual(r.asked, ["/items?q=1", "/items?page=2", "/items?page=3"]);
  assert.equal(r.done, true);
});

Deno.test("link_header: rel=next among others, quoted or not", () => {
  assert.equal(
    nextLink('<https://a.test/?p=1>; rel="prev", <https://a.test/?p=3>; rel="next"', "next"),
    "https://a.test/?p=3",
  );
  assert.equal(nextLink("<https://a.test/?p=3>; rel=next", "next"), "https://a.test/?p=3");
  assert.equal(nextLink('<https://a.test/?p=3>; rel="nextish"', "next"), undefined);
  assert.equal(nextLink('<https://a.test/?p=3>; rel="next last"', "next"), "https://a.test/?p=3");
  assert.equal(
    nextLink('<https://a.test/?p=3>; title="x"; rel=Next', "next"),
    "https://a.test/?p=3",
  );
  assert.equal(nextLink(null, "next"), undefined);
  const r = walk({ type: "link_header" }, [
    { body: [1], headers: { link: '<https://api.test/items?p=2>; rel="next"' } },
    { body: [2] },
  ]);
  assert.deepEqual(r.asked, ["/items?q=1", "/items?p=2"]);
  assert.equal(r.done, true);
});

Deno.test("offset: offset and limit, a short page ends; a total ends at the total", () => {
  const short = walk({ type: "offset", limit: 2 }, [{ body: [1, 2] }, { body: [3] }]);
  assert.deepEqual(short.asked, ["/items?q=1&offset=0&limit=2", "/items?q=1&offset=2&limit=2"]);
  assert.equal(short.done, true);
  const total = walk({ type: "offset", limit: 2, total_path: "total" }, [
    { body: { data: [1, 2], total: 4 } },
    { body: { data: [3, 4], total: 4 } },
  ]);
  assert.equal(total.asked.length, 2);
  assert.equal(total.done, true);
  const header = walk({ type: "offset", limit: 2, total_header: "x-total-count" }, [
    { body: [1, 2], headers: { "x-total-count": "3" } },
    { body: [3], headers: { "x-total-count": "3" } },
  ]);
  assert.equal(header.asked.length, 2);
  assert.equal(header.done, true);
});

Deno.test("offset: an end index instead of the limit (json-server's _start/_end)", () => {
  const r = walk(
    { type: "offset", limit: 10, offset_param: "_start", end_param: "_end" },
    [{ body: new Array(10).fill(0) }, { body: [] }],
  );
  assert.deepEqual(r.asked, ["/items?q=1&_start=0&_end=10", "/items?q=1&_start=10&_end=20"]);
});

Deno.test("page_number: from base_page, to the number of pages or the total", () => {
  const pages = walk({ type: "page_number", total_pages_path: "pages" }, [
    { body: { data: [1], pages: 2 } },
    { body: { data: [2], pages: 2 } },
  ]);
  assert.deepEqual(pages.asked, ["/items?q=1&page=1", "/items?q=1&page=2"]);
  assert.equal(pages.done, true);
  const zero = walk({ type: "page_number", base_page: 0, limit: 5, total_path: "n" }, [
    { body: { data: [1], n: 6 } },
    { body: { data: [2], n: 6 } },
  ]);
  assert.deepEqual(zero.asked, ["/items?q=1&page=0&limit=5", "/items?q=1&page=1&limit=5"]);
  assert.equal(zero.done, true);
  const open = walk({ type: "page_number" }, [{ body: [1] }, { body: [2] }]);
  assert.equal(open.done, false, "without a count, the driver's empty-page rule ends it");
});

Deno.test("single: one request", () => {
  const r = walk({ type: "single" }, [{ body: [1] }, { body: [2] }]);
  assert.deepEqual(r.asked, ["/items?q=1"]);
  assert.equal(r.done, true);
});

Deno.test("the table: the parameters each type sets, and its empty-page default", () => {
  const params = (s: unknown) => {
    const p = parse(s);
    return paginatorOf(p).params(p);
  };
  assert.deepEqual(params({ type: "cursor" }), ["offset"]);
  assert.deepEqual(params({ type: "offset", limit: 5 }), ["offset", "limit"]);
  assert.deepEqual(params({ type: "page_number", limit: 5 }), ["page", "limit"]);
  assert.deepEqual(params({ type: "next_url", next_url_path: "n" }), []);
  assert.deepEqual(
    PAGINATORS.filter((p) => p.stopsOnEmptyPage).map((p) => p.type),
    ["offset", "page_number"],
  );
  assert.deepEqual(PAGINATORS.filter((p) => !p.multiPage).map((p) => p.type), ["single"]);
});

Deno.test("the spec's schema is the table's: every type parses, an unknown one lists them", () => {
  for (const p of PAGINATORS) {
    const minimal = p.type === "offset"
      ? { type: p.type, limit: 1 }
      : p.type === "next_url"
      ? { type: p.type, next_url_path: "n" }
      : { type: p.type };
    assert.equal(parse(minimal).type, p.type);
  }
  const bad = v.safeParse(PaginatorSchema, { type: "pages" });
  assert.equal(bad.success, false);
  assert.match(
    bad.issues![0].message,
    /expected paginator type cursor, next_url, offset, page_number, link_header or single, got "pages"/,
  );
});
