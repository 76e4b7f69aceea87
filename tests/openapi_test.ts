/**
 * `check --openapi`: a spec against an API's OpenAPI description, with every mismatch
 * at its file:line:column, exit 2.
 */
import assert from "node:assert/strict";
import { ROOT, runCli, tempDir } from "./helpers.ts";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { serveHostile } from "./hostile.ts";

const OAS = `${ROOT}reference/asana_oas.yaml.gz`;

Deno.test("pipelines/asana.yaml passes check --openapi against Asana's own description", async () => {
  const r = await runCli(
    ["check", `${ROOT}pipelines/asana.yaml`, "--openapi", OAS],
    { ASANA_ACCESS_TOKEN: "x" },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /checked against .*asana_oas\.yaml\.gz: every resource's path has a GET/);
});

Deno.test("check --openapi names each unknown path, undeclared or missing param and unknown field", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/bad.yaml`;
  await Deno.writeTextFile(
    file,
    `pipeline: bad
dataset: bad_data
source:
  base_url: https://app.asana.com/api/1.0
  records: data
  fields_param: opt_fields
  always_returned: [gid, resource_type]
  paginator: { type: cursor, cursor_path: next_page.offset, cursor_param: offset }
  params: { limit: 100 }
defaults: { primary_key: gid }
resources:
  workspaces: { path: /workspaces, fields: [gid, name, nmae] }
  projects:
    path: /projects
    parent: workspaces
    params: { workspace: "{workspaces.gid}", colour: red }
    fields: [name, owner.name, team.nam]
  sections: { path: "/projects/{projects.gid}/sectionz", parent: projects }
  periods: { path: /time_periods, parent: workspaces }
  lists:
    path: /users/{workspaces.gid}/user_task_list
    parent: workspaces
    params: { workspace: "{workspaces.gid}" }
    paginator: { type: single }
`,
  );
  const r = await runCli(["check", file, "--openapi", OAS], {});
  assert.equal(r.code, 2, r.stdout);
  assert.deepEqual(r.stderr.trim().split("\n").map((l) => l.replace(file, "bad.yaml")), [
    'bad.yaml:9:13 source.params.limit: GET /users/{user_gid}/user_task_list declares no query parameter "limit" (resource lists; set it to null there)',
    'bad.yaml:12:56 resources.workspaces.fields[2]: "nmae" is not a field GET /workspaces returns; did you mean "name"?',
    'bad.yaml:16:46 resources.projects.params.colour: GET /projects declares no query parameter "colour"',
    'bad.yaml:17:20 resources.projects.fields[1]: "owner.name" is not a field GET /projects returns',
    'bad.yaml:17:32 resources.projects.fields[2]: "team.nam" is not a field GET /projects returns; did you mean "team.name"?',
    'bad.yaml:18:15 resources.sections.path: /projects/{projects.gid}/sectionz is not a path of the OpenAPI description; did you mean "/projects/{project_gid}/sections"?',
    'bad.yaml:19:3 resources.periods: GET /time_periods requires the query parameter "workspace"; add it to params',
  ]);
});

Deno.test("init --openapi lists the paths, and writes a spec that passes check and loads the fake Asana's truth", async () => {
  await using dir = await tempDir();
  const list = await runCli(["init", "--openapi", OAS], {});
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^\/projects\/\{project_gid\}\/sections {2}\(parent: projects\)$/m);

  const out = `${dir.path}/asana_min.yaml`;
  const paths = "/workspaces,/projects/{project_gid}/sections,/projects/{project_gid}/tasks," +
    "/tasks/{task_gid}/stories";
  const init = await runCli(["init", "--openapi", OAS, "--resources", paths, "--out", out], {});
  assert.equal(init.code, 0, init.stderr);
  const text = await Deno.readTextFile(out);
  // parents from path parameters, the paginator, fields and hints from the description
  assert.match(
    text,
    /^ {2}sections:\n {4}path: "\/projects\/\{projects\.gid\}\/sections"\n {4}parent: projects$/m,
  );
  assert.match(
    text,
    /paginator: \{ type: cursor, cursor_path: next_page\.offset, cursor_param: offset \}/,
  );
  assert.match(text, /^ {2}fields_param: opt_fields$/m);
  assert.match(text, /# added: the parent of a chosen path/);
  // named after its file: it never loads into the shipped asana.yaml's dataset
  assert.match(text, /^pipeline: asana_min\ndataset: asana_min_data$/m);
  assert.match(text, /columns: \{ .*created_at: timestamptz/);
  const again = await runCli(["init", "--openapi", OAS, "--resources", paths, "--out", out], {});
  assert.equal(again.code, 2);
  assert.match(again.stderr, /the file exists/);

  const check = await runCli(["check", out, "--openapi", OAS], { ASANA_TOKEN: "x" });
  assert.equal(check.code, 0, check.stderr);

  const fake = await startFakeAsana({ tasksPerProject: 6 });
  try {
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_TOKEN: fake.token };
    const run = await runCli(["run", out, "--db", `${dir.path}/db`], env, dir.path);
    assert.equal(run.code, 0, run.stderr);
    const dest = await PgliteDestination.open(`${dir.path}/db`);
    const count = async (t: string) =>
      (await dest.query<{ n: number }>(`select count(*)::int as n from asana_min_data.${t}`))
        .rows[0].n;
    const listed = new Set([...fake.data.tasksOf.values()].flat());
    let stories = 0;
    for (const t of listed) stories += fake.data.storiesOf.get(t)?.length ?? 0;
    assert.equal(await count("workspaces"), fake.data.all("workspace").length);
    assert.equal(await count("projects"), fake.data.all("project").length);
    assert.equal(await count("sections"), fake.data.all("section").length);
    assert.equal(await count("tasks"), listed.size);
    assert.equal(await count("stories"), stories);
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("init --openapi reads the description from a URL too", async () => {
  const gz = await Deno.readFile(OAS);
  await using server = serveHostile((url) =>
    url.pathname === "/asana_oas.yaml.gz"
      ? new Response(gz)
      : new Response("not here", { status: 404 })
  );
  const r = await runCli(["init", "--openapi", `${server.url}/asana_oas.yaml.gz`], {});
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\/workspaces$/m);
  const missing = await runCli(["init", "--openapi", `${server.url}/nope`], {});
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--openapi http:\/\/127\.0\.0\.1:\d+\/nope: .*HTTP 404/);
});

/** A bookshop's description: an API key in a header, lists under `items`, page numbers. */
const BOOKSHOP = {
  openapi: "3.0.0",
  info: { title: "Bookshop" },
  servers: [{ url: "https://books.example.com/v1" }],
  components: {
    securitySchemes: { key: { type: "apiKey", in: "header", name: "X-Api-Key" } },
    parameters: {
      page: { name: "page", in: "query", schema: { type: "integer" } },
      per_page: { name: "per_page", in: "query", schema: { type: "integer", maximum: 50 } },
    },
  },
  paths: {
    "/shelves": {
      get: {
        parameters: [{ $ref: "#/components/parameters/page" }, {
          $ref: "#/components/parameters/per_page",
        }],
        responses: {
          "200": {
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: {
                    items: {
                      type: "array",
                      items: {
                        type: "object",
                        properties: { id: { type: "integer" }, name: { type: "string" } },
                      },
                    },
                    total: { type: "integer" },
                  },
                },
              },
            },
          },
        },
      },
    },
    "/shelves/{shelf_id}/books": {
      get: {
        parameters: [
          { name: "shelf_id", in: "path", required: true, schema: { type: "integer" } },
          { $ref: "#/components/parameters/page" },
          { $ref: "#/components/parameters/per_page" },
        ],
        responses: {
          "200": {
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: {
                    items: {
                      type: "array",
                      items: {
                        type: "object",
                        properties: {
                          id: { type: "integer" },
                          title: { type: "string" },
                          added_at: { type: "string", format: "date-time" },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

Deno.test("init --openapi on another API: an API key, lists under items, shelf → shelves, page numbers; the spec checks and loads every page", async () => {
  await using dir = await tempDir();
  const oas = `${dir.path}/bookshop.json`;
  await Deno.writeTextFile(oas, JSON.stringify(BOOKSHOP));
  const out = `${dir.path}/bookshop.yaml`;
  const init = await runCli([
    "init",
    "--openapi",
    oas,
    "--resources",
    "/shelves/{shelf_id}/books",
    "--out",
    out,
  ], {});
  assert.equal(init.code, 0, init.stderr);
  const text = await Deno.readTextFile(out);
  assert.match(text, /api_key: "\$\{BOOKSHOP_API_KEY\}"/);
  assert.match(text, /^ {2}records: items$/m);
  assert.match(
    text,
    /paginator: \{ type: page_number, page_param: page, limit: 50, limit_param: per_page \}/,
  );
  assert.match(
    text,
    /^ {2}books:\n {4}path: "\/shelves\/\{shelves\.id\}\/books"\n {4}parent: shelves$/m,
  );
  const check = await runCli(["check", out, "--openapi", oas], { BOOKSHOP_API_KEY: "k" });
  assert.equal(check.code, 0, check.stdout + check.stderr);

  // a server that pages: 3 shelves, 120 books on shelf 2 (three pages of 50)
  const books = (shelf: number) =>
    Array.from({ length: shelf === 2 ? 120 : 3 }, (_, i) => ({
      id: shelf * 1000 + i,
      title: `book ${i}`,
      added_at: "2024-05-01T10:00:00Z",
    }));
  await using api = serveHostile((url, req) => {
    if (req.headers.get("x-api-key") !== "k") return new Response("no", { status: 401 });
    const page = Number(url.searchParams.get("page") ?? 1);
    const size = Number(url.searchParams.get("per_page") ?? 10);
    const all = url.pathname === "/v1/shelves"
      ? [1, 2, 3].map((id) => ({ id, name: `shelf ${id}` }))
      : books(Number(url.pathname.split("/")[3]));
    return Response.json({ items: all.slice((page - 1) * size, page * size) });
  });
  const run = await runCli(["run", out, "--db", `${dir.path}/db`], {
    BOOKSHOP_API_KEY: "k",
    BOOKSHOP_BASE_URL: `${api.url}/v1`,
  }, dir.path);
  assert.equal(run.code, 0, run.stderr);
  const dest = await PgliteDestination.open(`${dir.path}/db`);
  try {
    const n = await dest.query<{ n: number }>(`select count(*)::int as n from bookshop_data.books`);
    assert.equal(n.rows[0].n, 126);
  } finally {
    await dest.close();
  }
});

/** A description of one listing `/things`, with the given security scheme and paging. */
function describedApi(
  scheme: Record<string, unknown> | undefined,
  paging: "cursor" | "next_url" | "link_header" | "offset" | "none",
): Record<string, unknown> {
  const params: Record<string, unknown>[] = [];
  const body: Record<string, unknown> = {
    results: { type: "array", items: { type: "object", properties: { id: { type: "integer" } } } },
  };
  const int = { type: "integer", maximum: 25 };
  if (paging === "cursor") {
    params.push({ name: "cursor", in: "query", schema: { type: "string" } });
    params.push({ name: "limit", in: "query", schema: int });
    body.meta = { type: "object", properties: { next_cursor: { type: "string" } } };
  } else if (paging === "next_url") {
    body.next = { type: "string", format: "uri" };
  } else if (paging === "offset") {
    params.push({ name: "offset", in: "query", schema: { type: "integer" } });
    params.push({ name: "limit", in: "query", schema: int });
  }
  return {
    openapi: "3.0.0",
    info: { title: "Things" },
    servers: [{ url: "https://things.example.com/api" }],
    components: scheme ? { securitySchemes: { s: scheme } } : {},
    paths: {
      "/things": {
        get: {
          parameters: params,
          responses: {
            "200": {
              ...(paging === "link_header"
                ? { headers: { Link: { schema: { type: "string" } } } }
                : {}),
              content: { "application/json": { schema: { type: "object", properties: body } } },
            },
          },
        },
      },
    },
  };
}

Deno.test("init --openapi writes a spec that passes check for every auth scheme, and recognises cursor, next-URL, Link-header and offset paging", async () => {
  await using dir = await tempDir();
  const schemes: [string, Record<string, unknown> | undefined, Record<string, string>][] = [
    ["bearer", { type: "http", scheme: "bearer" }, { THINGS_TOKEN: "t" }],
    ["oauth2", { type: "oauth2", flows: {} }, { THINGS_TOKEN: "t" }],
    ["api key in a header", { type: "apiKey", in: "header", name: "X-Key" }, {
      THINGS_API_KEY: "k",
    }],
    ["api key in the query", { type: "apiKey", in: "query", name: "api_key" }, {
      THINGS_API_KEY: "k",
    }],
    ["basic", { type: "http", scheme: "basic" }, { THINGS_USER: "u", THINGS_PASSWORD: "p" }],
    ["none", undefined, {}],
  ];
  const pagings = {
    cursor: /paginator: \{ type: cursor, cursor_path: meta\.next_cursor, cursor_param: cursor \}/,
    next_url: /paginator: \{ type: next_url, next_url_path: next \}/,
    link_header: /paginator: \{ type: link_header \}/,
    offset: /paginator: \{ type: offset, limit: 25, offset_param: offset, limit_param: limit \}/,
    none: /# guessed: no paginator recognised/,
  };
  let n = 0;
  for (const [name, scheme, env] of schemes) {
    for (const [paging, expected] of Object.entries(pagings)) {
      const oas = `${dir.path}/things_${n}.json`;
      const out = `${dir.path}/things_${n++}.yaml`;
      await Deno.writeTextFile(
        oas,
        JSON.stringify(describedApi(scheme, paging as keyof typeof pagings)),
      );
      const init = await runCli(["init", "--openapi", oas, "--resources", "/things", "--out", out]);
      assert.equal(init.code, 0, `${name}, ${paging}: ${init.stderr}`);
      const text = await Deno.readTextFile(out);
      assert.match(text, expected, `${name}, ${paging}:\n${text}`);
      assert.match(text, /# recognised: the records are the list at results of each answer/);
      // what it could not infer is said on stderr too, with the line
      if (paging === "none") {
        assert.match(init.stderr, /things_\d+\.yaml:\d+: guessed: no paginator recognised/);
      }
      // valid YAML, and a valid spec against its own description
      const check = await runCli(["check", out, "--openapi", oas], env);
      assert.equal(check.code, 0, `${name}, ${paging}:\n${text}\n${check.stdout}${check.stderr}`);
    }
  }
});

Deno.test("a spec init wrote for cursor, next-URL, Link-header and offset paging loads every page of a local server", async () => {
  await using dir = await tempDir();
  const all = Array.from({ length: 60 }, (_, i) => ({ id: i + 1 }));
  await using api = serveHostile((url) => {
    const limit = Number(url.searchParams.get("limit") ?? 25);
    const at = Number(url.searchParams.get("cursor") ?? url.searchParams.get("offset") ?? 0);
    const mode = url.pathname.split("/")[1];
    const page = all.slice(at, at + (mode === "offset" || mode === "cursor" ? limit : 25));
    const more = at + page.length < all.length;
    const next = `${url.origin}/${mode}/things?cursor=${at + page.length}`;
    if (mode === "cursor") {
      return Response.json({
        results: page,
        meta: { next_cursor: more ? String(at + page.length) : null },
      });
    }
    if (mode === "next_url") return Response.json({ results: page, next: more ? next : null });
    if (mode === "link_header") {
      return Response.json({ results: page }, {
        headers: more ? { Link: `<${next}>; rel="next"` } : {},
      });
    }
    return Response.json({ results: page });
  });
  for (const paging of ["cursor", "next_url", "link_header", "offset"] as const) {
    const oas = `${dir.path}/${paging}.json`;
    const out = `${dir.path}/${paging}.yaml`;
    await Deno.writeTextFile(oas, JSON.stringify(describedApi(undefined, paging)));
    const init = await runCli(["init", "--openapi", oas, "--resources", "/things", "--out", out]);
    assert.equal(init.code, 0, init.stderr);
    const run = await runCli(["run", out, "--db", `${dir.path}/db_${paging}`, "--quiet"], {
      THINGS_BASE_URL: `${api.url}/${paging}`,
    }, dir.path);
    assert.equal(run.code, 0, `${paging}: ${run.stderr}`);
    const dest = await PgliteDestination.open(`${dir.path}/db_${paging}`);
    try {
      const n = await dest.query<{ n: number }>(
        `select count(distinct id)::int as n from ${paging}_data.things`,
      );
      assert.equal(n.rows[0].n, 60, paging);
    } finally {
      await dest.close();
    }
  }
});
