/**
 * `init --openapi` on three OpenAPI descriptions nobody here wrote (from the npm package
 * `@readme/oas-examples`, pinned in tests/imports.json): Swagger's pet store (a top-level
 * list, a required parameter with a default), the Star Trek API STAPI (records under a
 * different property per path, zero-based `pageNumber`/`pageSize` paging with
 * `page.totalPages`, an API key as a plain query parameter) and Bump.sh's Train Travel
 * API (OpenAPI 3.1, `allOf` wrappers, a next-page URL in `links.next`). Each generated
 * spec passes `check` against its description and loads every page of a local server that
 * answers as the API documents, with records made from the description's own examples.
 */
import assert from "node:assert/strict";
import petstore from "@readme/oas-examples/3.0/json/petstore.json" with { type: "json" };
import stapi from "@readme/oas-examples/3.0/json/star-trek.json" with { type: "json" };
import trains from "@readme/oas-examples/3.1/json/train-travel.json" with { type: "json" };
import { runCli, tempDir } from "./helpers.ts";
import { serveHostile } from "./hostile.ts";
import { PgliteDestination } from "../src/load/pglite.ts";

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** A schema with `$ref`s followed and `allOf` merged (the test's own, not restpipe's). */
function resolve(doc: Json, node: unknown, depth = 0): Json {
  let s = node;
  while (isObject(s) && typeof s.$ref === "string") {
    s = s.$ref.slice(2).split("/").reduce<unknown>((o, k) => isObject(o) ? o[k] : undefined, doc);
  }
  if (!isObject(s)) return {};
  if (!Array.isArray(s.allOf) || depth > 8) return s;
  const out: Json = { ...s, allOf: undefined };
  for (const part of s.allOf.map((p) => resolve(doc, p, depth + 1))) {
    const props = { ...(out.properties as Json ?? {}), ...(part.properties as Json ?? {}) };
    Object.assign(out, part, { properties: props });
  }
  return out;
}

/** A value for a schema: its example, its first enum value, else one of its type. */
function sample(doc: Json, node: unknown, depth = 0): unknown {
  const s = resolve(doc, node);
  if (s.example !== undefined) return s.example;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if (Array.isArray(s.enum)) return s.enum[0];
  if (s.type === "array") return depth > 3 ? [] : [sample(doc, s.items, depth + 1)];
  if (s.type === "object" || s.properties) {
    if (depth > 3) return {};
    return Object.fromEntries(
      Object.entries(s.properties as Json ?? {}).map(([k, v]) => [k, sample(doc, v, depth + 1)]),
    );
  }
  if (s.type === "integer") return 7;
  if (s.type === "number") return 1.5;
  if (s.type === "boolean") return true;
  if (s.format === "date-time") return "2024-05-01T10:00:00Z";
  if (s.format === "date") return "2024-05-01";
  return "text";
}

/** `n` records of the schema of `path`'s list, each with its own key. */
function records(doc: Json, schema: string, key: string, n: number): Json[] {
  const one = sample(doc, { $ref: `#/components/schemas/${schema}` }) as Json;
  return Array.from({ length: n }, (_, i) => ({
    ...one,
    [key]: typeof one[key] === "number"
      ? i + 1
      : key === "id"
      ? `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`
      : `${String(one[key]).slice(0, 4)}${i}`,
  }));
}

/** Runs init for `paths`, then check against the description; the spec's text. */
async function init(dir: string, name: string, doc: Json, paths: string[]): Promise<string> {
  const oas = `${dir}/${name}.json`;
  await Deno.writeTextFile(oas, JSON.stringify(doc));
  const out = `${dir}/${name}.yaml`;
  const made = await runCli([
    "init",
    "--openapi",
    oas,
    "--resources",
    paths.join(","),
    "--out",
    out,
  ]);
  assert.equal(made.code, 0, made.stderr);
  const text = await Deno.readTextFile(out);
  const check = await runCli(["check", out, "--openapi", oas, "--no-secrets"]);
  assert.equal(check.code, 0, `${text}\n${check.stdout}${check.stderr}`);
  return text;
}

/** Runs the spec into a new database and returns each table's row count. */
async function load(
  dir: string,
  name: string,
  env: Record<string, string>,
  tables: string[],
): Promise<Record<string, number>> {
  const run = await runCli(
    ["run", `${dir}/${name}.yaml`, "--db", `${dir}/${name}_db`, "--quiet"],
    env,
    dir,
  );
  assert.equal(run.code, 0, run.stderr);
  const dest = await PgliteDestination.open(`${dir}/${name}_db`);
  try {
    const out: Record<string, number> = {};
    for (const t of tables) {
      const r = await dest.query<{ n: number }>(
        `select count(distinct ${t.split(":")[1]})::int as n from ${name}_data.${t.split(":")[0]}`,
      );
      out[t.split(":")[0]] = r.rows[0].n;
    }
    return out;
  } finally {
    await dest.close();
  }
}

Deno.test("init --openapi on Swagger's pet store: a top-level list, a bearer token, a required parameter's default", async () => {
  await using dir = await tempDir();
  const text = await init(dir.path, "petstore", petstore, ["/pet/findByStatus"]);
  assert.match(text, /auth: \{ type: bearer, token: "\$\{SWAGGER_PETSTORE_TOKEN\}" \}/);
  assert.match(text, /# recognised: each answer is the list of records itself/);
  assert.match(text, /params: \{ status: available \}/);
  const pets = records(petstore, "Pet", "id", 7);
  const seen: string[] = [];
  await using api = serveHostile((url, req) => {
    if (req.headers.get("authorization") !== "Bearer t") return new Response("no", { status: 401 });
    seen.push(`${url.pathname}${url.search}`);
    return Response.json(pets.filter((p) => p.status === url.searchParams.get("status")));
  });
  const n = await load(dir.path, "petstore", {
    SWAGGER_PETSTORE_TOKEN: "t",
    SWAGGER_PETSTORE_BASE_URL: `${api.url}/v2`,
  }, ["find_by_status:id"]);
  assert.deepEqual(n, { find_by_status: 7 });
  assert.deepEqual(seen, ["/v2/pet/findByStatus?status=available"]);
});

Deno.test("init --openapi on STAPI: records under a property per path, zero-based page numbers with page.totalPages, an API key in the query", async () => {
  await using dir = await tempDir();
  const text = await init(dir.path, "stapi", stapi, ["/animal/search", "/book/search"]);
  assert.match(
    text,
    /auth: \{ type: api_key, name: apiKey, api_key: "\$\{STAPI_API_KEY\}", location: query \}/,
  );
  assert.match(
    text,
    /paginator: \{ type: page_number, page_param: pageNumber, base_page: 0, limit: 100, limit_param: pageSize, total_pages_path: page\.totalPages \}/,
  );
  assert.match(text, /^ {2}animals:\n {4}path: "\/animal\/search"$/m);
  assert.match(text, /^ {2}books:\n {4}path: "\/book\/search"\n.*\n {4}records: books$/m);
  const all: Record<string, Json[]> = {
    animal: records(stapi, "AnimalBase", "uid", 230),
    book: records(stapi, "BookBase", "uid", 40),
  };
  await using api = serveHostile((url) => {
    if (url.searchParams.get("apiKey") !== "k") return new Response("no", { status: 401 });
    const kind = url.pathname.split("/")[4];
    const number = Number(url.searchParams.get("pageNumber") ?? 0);
    const size = Number(url.searchParams.get("pageSize") ?? 50);
    const list = all[kind];
    const totalPages = Math.ceil(list.length / size);
    return Response.json({
      page: {
        pageNumber: number,
        pageSize: size,
        numberOfElements: list.slice(number * size, (number + 1) * size).length,
        totalElements: list.length,
        totalPages,
        firstPage: number === 0,
        lastPage: number === totalPages - 1,
      },
      sort: { clauses: [] },
      [`${kind}s`]: list.slice(number * size, (number + 1) * size),
    });
  });
  const n = await load(dir.path, "stapi", {
    STAPI_API_KEY: "k",
    STAPI_BASE_URL: `${api.url}/api/v1/rest`,
  }, ["animals:uid", "books:uid"]);
  assert.deepEqual(n, { animals: 230, books: 40 });
});

Deno.test("init --openapi on the Train Travel API (3.1): allOf wrappers, the next page's URL in links.next", async () => {
  await using dir = await tempDir();
  const text = await init(dir.path, "trains", trains, ["/stations", "/bookings"]);
  assert.match(text, /# recognised: the records are the list at data of each answer/);
  assert.match(text, /paginator: \{ type: next_url, next_url_path: links\.next \}/);
  assert.match(text, /^ {2}stations:\n {4}path: "\/stations"\n {4}primary_key: id$/m);
  // the description's own example stations first, then more of the same shape
  const example = ((trains.paths["/stations"].get.responses["200"].content["application/json"]
    .example) as { data: Json[] }).data;
  const all: Record<string, Json[]> = {
    stations: [...example, ...records(trains, "Station", "id", 43)],
    bookings: records(trains, "Booking", "id", 12),
  };
  await using api = serveHostile((url, req) => {
    if (req.headers.get("authorization") !== "Bearer t") return new Response("no", { status: 401 });
    const kind = url.pathname.slice(1);
    const page = Number(url.searchParams.get("page") ?? 1);
    const list = all[kind];
    const more = page * 10 < list.length;
    return Response.json({
      data: list.slice((page - 1) * 10, page * 10),
      links: {
        self: `${url.origin}/${kind}?page=${page}`,
        ...(more ? { next: `${url.origin}/${kind}?page=${page + 1}` } : {}),
        ...(page > 1 ? { prev: `${url.origin}/${kind}?page=${page - 1}` } : {}),
      },
    });
  });
  const n = await load(dir.path, "trains", {
    TRAIN_TRAVEL_API_TOKEN: "t",
    TRAIN_TRAVEL_API_BASE_URL: api.url,
  }, ["stations:id", "bookings:id"]);
  assert.deepEqual(n, { stations: 45, bookings: 12 });
  const dest = await PgliteDestination.open(`${dir.path}/trains_db`);
  try {
    const berlin = await dest.query<{ name: string }>(
      `select name from trains_data.stations where id = 'efdbb9d1-02c2-4bc3-afb7-6788d8782b1e'`,
    );
    assert.deepEqual(berlin.rows.map((r) => r.name), ["Berlin Hauptbahnhof"]);
  } finally {
    await dest.close();
  }
});
