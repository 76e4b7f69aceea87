/**
 * `init --openapi`: a working spec from an API's OpenAPI description: base URL, auth,
 * one resource per chosen `GET` path, parents from path parameters, the paginator,
 * `fields` and column hints from the response schema, and comments that say what was
 * guessed.
 *
 * @module
 */
import {
  deref,
  flatSchema,
  isObject,
  type Json,
  type OpenApiDocument,
  type Parameter,
  parametersOf,
  propertiesOf,
} from "./openapi.ts";

/** A schema's properties, each resolved (`$ref` followed, `allOf` merged). */
function properties(doc: OpenApiDocument, node: unknown): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const [k, v] of propertiesOf(doc, node)) {
    const resolved = flatSchema(doc, v);
    if (isObject(resolved)) out.set(k, resolved);
  }
  return out;
}

/** How an answer says where the next page is, when the description shows it. */
export type Paging =
  | { kind: "cursor"; path: string; param: string }
  | { kind: "next_url"; path: string }
  | { kind: "link_header" };

/** Response properties that hold a next page's cursor, and the parameters that take one. */
const CURSOR_PROPS = ["next_cursor", "nextCursor", "next_page_token", "nextPageToken", "cursor"];
const CURSOR_PARAMS = ["cursor", "page_token", "pageToken", "starting_after", "after"];
/** Response properties that hold the next page's URL. */
const NEXT_URL_PROPS = ["next", "next_url", "nextUrl", "next_page_url"];

/**
 * How an answer pages, from its top-level properties (and those one level down, such as
 * `meta.next_cursor`), its query parameters and its declared headers.
 */
function pagingOf(
  doc: OpenApiDocument,
  top: Map<string, Json>,
  query: Parameter[],
  headers: unknown,
): Paging | undefined {
  const params = new Set(query.map((q) => q.name));
  const places: [string, Map<string, Json>][] = [["", top]];
  for (const [name, p] of top) {
    if (p.type === "object" || p.properties) places.push([`${name}.`, properties(doc, p)]);
  }
  for (const [prefix, props] of places) {
    const cursor = CURSOR_PROPS.find((c) => props.has(c));
    const param = CURSOR_PARAMS.find((c) => params.has(c));
    if (cursor && param) return { kind: "cursor", path: `${prefix}${cursor}`, param };
  }
  for (const [prefix, props] of places) {
    const next = NEXT_URL_PROPS.find((n) => props.get(n)?.type === "string");
    if (next) return { kind: "next_url", path: `${prefix}${next}` };
  }
  if (isObject(headers) && Object.keys(headers).some((h) => h.toLowerCase() === "link")) {
    return { kind: "link_header" };
  }
  return undefined;
}

/** Query parameters that take a page number, and those that take a page's size. */
const PAGE_PARAMS = ["page", "pageNumber", "page_number", "pageNo", "page_no"];
const PAGE_SIZES = ["per_page", "perPage", "page_size", "pageSize", "limit", "size"];
/** Query parameters that carry an API key when no security scheme says so. */
const KEY_PARAMS = ["apiKey", "api_key", "apikey", "key", "access_key"];
/** Response properties that count the pages. */
const TOTAL_PAGES = ["total_pages", "totalPages", "page_count", "pageCount", "pages"];

/** Where an answer counts its pages (top level, or one level down: `page.totalPages`). */
function totalPagesOf(doc: OpenApiDocument, top: Map<string, Json>): string | undefined {
  const isInt = (p: Json | undefined) => p?.type === "integer";
  const here = TOTAL_PAGES.find((n) => isInt(top.get(n)));
  if (here) return here;
  for (const [name, p] of top) {
    if (p.type !== "object" && !p.properties) continue;
    const props = properties(doc, p);
    const inner = TOTAL_PAGES.find((n) => isInt(props.get(n)));
    if (inner) return `${name}.${inner}`;
  }
  return undefined;
}

/** What a chosen path lists, as far as its description tells. */
export interface Candidate {
  path: string;
  /** The resource name (its last literal segment, made unique). */
  name: string;
  /** Path parameters, in order. */
  pathParams: string[];
  /** Query parameters. */
  query: Parameter[];
  /** Where the records sit (`data`, or "" for a top-level list). */
  records: string | undefined;
  /** Properties of one record. */
  fields: Map<string, Json>;
  /** `next_page.offset`-style cursor in the body, when there is one. */
  cursorPath: string | undefined;
  /** The fields of the body's `next_page` (a field list may offer them; they are no record's). */
  pagingFields: string[];
  /** What else in the answer pages: a cursor property, a next-page URL, a Link header. */
  paging: Paging | undefined;
  /** Where the answer says how many pages there are (`page.totalPages`), when it does. */
  totalPagesPath: string | undefined;
  /** The resource a parameter of this path names, among the description's listings. */
  resourceOf: (param: string) => string;
}

/** Every `GET` path that answers a list, with what the description says of it. */
export function candidates(doc: OpenApiDocument): Candidate[] {
  const out: Candidate[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const op = deref(doc, item.get);
    if (!isObject(op) || !isObject(item)) continue;
    const responses = isObject(op.responses) ? op.responses : {};
    const ok = deref(doc, responses["200"]);
    const media = isObject(ok) && isObject(ok.content)
      ? deref(doc, ok.content["application/json"])
      : undefined;
    const schema = flatSchema(doc, isObject(media) ? media.schema : undefined);
    if (!isObject(schema)) continue;
    let records: string | undefined;
    let recordSchema: unknown;
    if (schema.type === "array") {
      records = "";
      recordSchema = fullSchema(doc, schema.items);
    } else {
      // the list of records: `data` when there is one, else the body's one list property
      // (`items`, `results`, `books`…)
      const lists = [...properties(doc, schema)].filter(([, p]) => {
        const d = deref(doc, p);
        return isObject(d) && (d.type === "array" || d.items !== undefined);
      });
      const list = lists.find(([name]) => name === "data") ??
        (lists.length === 1 ? lists[0] : undefined);
      if (list) {
        records = list[0];
        recordSchema = fullSchema(doc, (deref(doc, list[1]) as Json).items);
      }
    }
    if (records === undefined) continue;
    const query = parametersOf(doc, item, op).filter((p) => p.in === "query");
    const top = properties(doc, schema);
    const next = top.get("next_page");
    const pagingFields = next ? [...properties(doc, next).keys()] : [];
    const cursorPath = pagingFields.includes("offset") ? "next_page.offset" : undefined;
    const paging = pagingOf(doc, top, query, isObject(ok) ? ok.headers : undefined);
    out.push({
      totalPagesPath: totalPagesOf(doc, top),
      path,
      name: "",
      pathParams: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
      query,
      records,
      fields: properties(doc, recordSchema),
      cursorPath,
      pagingFields,
      paging,
      resourceOf: (param) => resourceOf(param),
    });
  }
  for (const c of out) c.name = baseName(c.path);
  // a name two listings share: the one with fewer path parameters keeps it (a parent's
  // `/projects` before `/workspaces/{id}/projects`), the others get a number
  const taken = new Set<string>();
  for (const c of [...out].sort((a, b) => a.pathParams.length - b.pathParams.length)) {
    if (!taken.has(c.name) || c.pathParams.length > 0) {
      taken.add(c.name);
      continue;
    }
    let n = 2;
    while (taken.has(`${c.name}_${n}`)) n++;
    c.name = `${c.name}_${n}`;
    taken.add(c.name);
  }
  const names = out.map((c) => c.name);
  for (const c of out) c.resourceOf = (param) => resourceOf(param, names);
  return out;
}

const literal = (p: string) => p.split("/").filter((s) => s && !s.startsWith("{"));

/** Last segments that name an action on a collection, not the collection (`/animal/search`). */
const ACTIONS = new Set(["search", "list", "all", "query", "index", "find"]);

/**
 * A path's resource name: its last literal segment (`/projects/{project_id}/sections` →
 * sections); after an action segment, the segment before it as a plural (`/animal/search`
 * → animals).
 */
function baseName(path: string): string {
  const segs = literal(path);
  const last = segs[segs.length - 1] ?? "items";
  if (ACTIONS.has(last.toLowerCase()) && segs.length > 1) {
    const noun = snake(segs[segs.length - 2]);
    return noun.endsWith("s") ? noun : plurals(noun)[0];
  }
  return snake(last);
}

/** The full schema of a compact record (`TaskCompact` → `TaskResponse`), when there is one. */
function fullSchema(doc: OpenApiDocument, items: unknown): unknown {
  if (!isObject(items) || typeof items.$ref !== "string") return items;
  const full = items.$ref.replace(/Compact$/, "Response");
  return full !== items.$ref && deref(doc, { $ref: full }) !== undefined ? { $ref: full } : items;
}

function snake(s: string): string {
  return s.replace(/[^A-Za-z0-9]+/g, "_").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase()
    .replace(/^_+|_+$/g, "");
}

function singular(s: string): string {
  if (s.endsWith("ies")) return `${s.slice(0, -3)}y`;
  if (/(s|x|z|ch|sh)es$/.test(s)) return s.slice(0, -2);
  return s.endsWith("s") ? s.slice(0, -1) : s;
}

/**
 * The plural forms a resource name may take for a singular noun: `shelf` → shelves or
 * shelfs, `box` → boxes, `story` → stories, `project` → projects.
 */
function plurals(s: string): string[] {
  if (s.endsWith("s")) return [s, `${s}es`];
  if (/[^aeiou]y$/.test(s)) return [`${s.slice(0, -1)}ies`];
  if (/(x|z|ch|sh)$/.test(s)) return [`${s}es`];
  if (s.endsWith("fe")) return [`${s.slice(0, -2)}ves`, `${s}s`];
  if (s.endsWith("f")) return [`${s.slice(0, -1)}ves`, `${s}s`];
  return [`${s}s`];
}

/**
 * A record's key field, by its name: one letter and `id` (a global id such as `uid`)
 * before a plain `id`; undefined when it has neither.
 */
function keyField(fields: ReadonlyMap<string, unknown>): string | undefined {
  const global = [...fields.keys()].find((f) => /^[a-z]id$/.test(f));
  return global ?? (fields.has("id") ? "id" : undefined);
}

/**
 * The resource a path or query parameter names (`project_id`, `workspace` → plural);
 * `names`, when given, are the resources there are, and the plural form that is one of
 * them wins (`shelf_id` → shelves).
 */
function resourceOf(param: string, names?: Iterable<string>): string {
  const forms = plurals(snake(param).replace(/_[a-z]?id$/, ""));
  const known = names ? new Set(names) : undefined;
  return forms.find((f) => known?.has(f)) ?? forms[0];
}

/** Paths and their inferred parents, for `init --openapi` without `--resources`. */
export function describeCandidates(doc: OpenApiDocument): string {
  const list = candidates(doc);
  const names = new Set(list.map((c) => c.name));
  return list.map((c) => {
    const parents = c.pathParams.map((p) => c.resourceOf(p)).filter((p) => names.has(p));
    return `${c.path}${parents.length ? `  (parent: ${parents.join(", ")})` : ""}`;
  }).join("\n");
}

/** A YAML scalar, quoted when it must be. */
function y(value: string | number | boolean): string {
  if (typeof value !== "string") return String(value);
  return /^[A-Za-z_][A-Za-z0-9_./-]*$/.test(value) &&
      !/^(true|false|null|yes|no|on|off)$/i.test(value)
    ? value
    : JSON.stringify(value);
}

const HINTS: [(s: Json) => boolean, string][] = [
  [(s) => s.type === "string" && s.format === "date-time", "timestamptz"],
  [(s) => s.type === "string" && s.format === "date", "date"],
  [(s) => s.type === "integer", "bigint"],
  [(s) => s.type === "number", "double precision"],
  [(s) => s.type === "boolean", "boolean"],
];

/** Options of {@linkcode generateSpec}. */
export interface InitOptions {
  /** The chosen paths, exactly as the description writes them. */
  paths: string[];
  /** The spec file's name, for the comments. */
  source: string;
  /**
   * The pipeline's name (its dataset is `<name>_data`); the description's title when
   * not given. `init --out shop.yaml` names it after the file, so that a generated spec
   * never loads into the tables of another pipeline of the same API.
   */
  name?: string;
}

/**
 * Writes a spec for the chosen paths. A path parameter's resource (`{project_id}` →
 * `projects`) becomes the parent, added from the description when not chosen.
 */
export function generateSpec(doc: OpenApiDocument, options: InitOptions): string {
  const all = candidates(doc);
  const byPath = new Map(all.map((c) => [c.path, c]));
  const unknown = options.paths.filter((p) => !byPath.has(p));
  if (unknown.length > 0) {
    throw new Error(
      `not a GET path that lists records in the description: ${unknown.join(", ")}`,
    );
  }
  /** The listing of a resource name: a chosen one, else `/<name>`, else the shortest. */
  const listingOf = (name: string): Candidate | undefined => {
    const same = all.filter((c) => c.name === name);
    return same.find((c) => options.paths.includes(c.path)) ??
      same.find((c) => c.path === `/${name}`) ??
      same.sort((a, b) => a.pathParams.length - b.pathParams.length)[0];
  };
  const chosen: Candidate[] = [];
  const added = new Set<string>();
  const want = (c: Candidate) => {
    if (chosen.includes(c)) return;
    for (const param of c.pathParams) {
      const parent = listingOf(c.resourceOf(param));
      if (parent && parent !== c) {
        if (!options.paths.includes(parent.path)) added.add(parent.path);
        want(parent);
      }
    }
    chosen.push(c);
  };
  for (const p of options.paths) want(byPath.get(p)!);
  // names unique among the chosen: a second `tasks` becomes `project_tasks`
  const count = new Map<string, number>();
  for (const c of chosen) count.set(c.name, (count.get(c.name) ?? 0) + 1);
  const nameOf = new Map(chosen.map((c) => [
    c,
    (count.get(c.name) ?? 0) > 1 && c.pathParams.length > 0
      ? snake(`${singular(literal(c.path)[0])}_${c.name}`)
      : c.name,
  ]));
  const byName = new Map(chosen.map((c) => [nameOf.get(c)!, c]));
  const names = new Set(byName.keys());
  const info = isObject((doc as Json).info) ? (doc as Json).info as Json : {};
  const title = snake(String(info.title ?? "api")) || "api";
  const pipelineName = options.name ? snake(options.name) || title : title;
  const servers = Array.isArray((doc as Json).servers) ? (doc as Json).servers as Json[] : [];
  const base = typeof servers[0]?.url === "string" ? servers[0].url : "https://api.example.com";
  const env = title.toUpperCase();
  const schemes = isObject((doc as Json).components) &&
      isObject(((doc as Json).components as Json).securitySchemes)
    ? Object.values(((doc as Json).components as Json).securitySchemes as Json).map((s) =>
      deref(doc, s)
    ).filter(isObject)
    : [];
  const fieldsParams = new Set(
    chosen.flatMap((c) =>
      c.query.filter((q) => q.allowed && /fields/.test(q.name)).map((q) => q.name)
    ),
  );
  const fieldsParam = fieldsParams.size === 1 ? [...fieldsParams][0] : undefined;
  const limits = chosen.flatMap((c) =>
    c.query.filter((q) => q.name === "limit" && q.maximum).map((q) => q.maximum!)
  );
  const cursor = chosen.every((c) => c.cursorPath && c.query.some((q) => q.name === "offset"));
  /** What every chosen path agrees on, when they all have it. */
  const same = (k: (c: Candidate) => string | undefined) => {
    const all = chosen.map(k);
    return all.length > 0 && all.every((x) => x !== undefined && x === all[0]) ? all[0] : undefined;
  };
  // page-number paging: every chosen path takes a page number, and most a page size
  const pageParam = cursor || chosen.length === 0
    ? undefined
    : PAGE_PARAMS.find((n) => chosen.every((c) => c.query.some((q) => q.name === n)));
  const paged = pageParam !== undefined;
  const pageSize = paged
    ? PAGE_SIZES.find((n) => chosen.every((c) => c.query.some((q) => q.name === n)))
    : undefined;
  // pages counted from 0 when the description says so (`Zero-based page number`)
  const basePage = paged &&
      chosen.some((c) =>
        c.query.some((q) =>
          q.name === pageParam &&
          (/\b(zero|0)[- ]based\b|\bstarts? (at|from) 0\b/i.test(q.description ?? "") ||
            q.default === "0")
        )
      )
    ? 0
    : 1;
  const totalPages = paged ? same((c) => c.totalPagesPath) : undefined;
  const sizeOf = (param: string) =>
    Math.min(
      ...chosen.flatMap((c) =>
        c.query.filter((q) => q.name === param && q.maximum).map((q) => q.maximum!)
      ),
      100,
    );
  const paging = same((c) => c.paging && JSON.stringify(c.paging));
  const limitParam = PAGE_SIZES.find((n) => chosen.every((c) => c.query.some((q) => q.name === n)));
  const offsetParam =
    chosen.length > 0 && chosen.every((c) => c.query.some((q) => q.name === "offset"))
      ? "offset"
      : undefined;
  let others: string[] | undefined;
  if (!cursor && !paged && paging) {
    const p = JSON.parse(paging) as Paging;
    const size = limitParam ? `, limit ${sizeOf(limitParam)} a page in ?${limitParam}=` : "";
    if (p.kind === "cursor") {
      others = [
        `  # recognised: the next page's cursor in ${p.path}, sent back as ?${p.param}=${size}`,
        `  paginator: { type: cursor, cursor_path: ${y(p.path)}, cursor_param: ${y(p.param)} }`,
      ];
    } else if (p.kind === "next_url") {
      others = [
        `  # recognised: the next page's URL in ${p.path}`,
        `  paginator: { type: next_url, next_url_path: ${y(p.path)} }`,
      ];
    } else {
      others = [
        `  # recognised: a Link header (rel="next") in the answers`,
        `  paginator: { type: link_header }`,
      ];
    }
    // (a `limit` with a maximum is set below, for every paginator)
    if (limitParam && !(limitParam === "limit" && limits.length > 0)) {
      others.push(`  params: { ${y(limitParam)}: ${sizeOf(limitParam)} }`);
    }
  } else if (!cursor && !paged && offsetParam && limitParam) {
    others = [
      `  # recognised: ?${offsetParam}= and ?${limitParam}=, ${
        sizeOf(limitParam)
      } records a page; an empty or short page ends a listing`,
      `  paginator: { type: offset, limit: ${
        sizeOf(limitParam)
      }, offset_param: ${offsetParam}, limit_param: ${y(limitParam)} }`,
    ];
  }
  const pageLimit = pageSize === undefined ? undefined : Math.min(
    ...chosen.flatMap((c) =>
      c.query.filter((q) => q.name === pageSize && q.maximum).map((q) => q.maximum!)
    ),
    100,
  );

  const lines: string[] = [
    `# yaml-language-server: $schema=../docs/spec.schema.json`,
    `# Written by restpipe init from ${options.source}; review the lines marked "guessed".`,
    `pipeline: ${y(pipelineName)}`,
    `dataset: ${y(`${pipelineName}_data`)}`,
    ``,
    `source:`,
  ];
  // plain http to another host would send the credentials in clear: the spec refuses it,
  // and most APIs that a description lists with http:// answer on https:// too
  const insecure = /^http:\/\//i.test(base) &&
    !/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/i.test(base);
  if (insecure) {
    lines.push(
      `  # guessed: the description gives ${base}; https:// keeps the credentials out of clear text`,
    );
  }
  lines.push(
    `  base_url: \${${env}_BASE_URL:-${insecure ? base.replace(/^http:/i, "https:") : base}}`,
  );
  const bearer = schemes.find((s) => s.type === "http" && s.scheme === "bearer") ??
    schemes.find((s) => s.type === "oauth2");
  const apiKey = schemes.find((s) => s.type === "apiKey");
  const basic = schemes.find((s) => s.type === "http" && s.scheme === "basic");
  // an API key some descriptions declare as a plain query parameter (`?apiKey=`)
  const queryKey = bearer || apiKey || basic || chosen.length === 0
    ? undefined
    : KEY_PARAMS.find((n) => chosen.every((c) => c.query.some((q) => q.name === n)));
  if (bearer) {
    lines.push(`  auth: { type: bearer, token: "\${${env}_TOKEN}" }`);
  } else if (apiKey) {
    lines.push(
      `  auth: { type: api_key, name: ${
        y(String(apiKey.name))
      }, api_key: "\${${env}_API_KEY}", location: ${apiKey.in === "query" ? "query" : "header"} }`,
    );
  } else if (basic) {
    lines.push(
      `  auth: { type: basic, username: "\${${env}_USER}", password: "\${${env}_PASSWORD}" }`,
    );
  } else if (queryKey) {
    lines.push(
      `  # guessed: no security scheme in the description; ?${queryKey}= of every listing is the key`,
      `  auth: { type: api_key, name: ${
        y(queryKey)
      }, api_key: "\${${env}_API_KEY}", location: query }`,
    );
  } else lines.push(`  # no security scheme in the description: no auth`);
  const records = chosen[0]?.records ?? "";
  lines.push(
    records === ""
      ? `  # recognised: each answer is the list of records itself`
      : `  # recognised: the records are the list at ${records} of each answer`,
    `  records: ${y(records)}`,
  );
  if (cursor) {
    lines.push(
      `  # recognised: an offset token in next_page.offset, sent back as ?offset=`,
      `  paginator: { type: cursor, cursor_path: next_page.offset, cursor_param: offset }`,
    );
  } else if (paged) {
    lines.push(
      `  # recognised: page numbers in ?${pageParam}=${basePage === 0 ? " from 0" : ""}${
        pageSize ? `, ${pageLimit} records a page in ?${pageSize}=` : ""
      }; ${totalPages ? `the number of pages in ${totalPages}` : "an empty page"} ends a listing`,
      `  paginator: { type: page_number, page_param: ${y(pageParam)}${
        basePage === 0 ? ", base_page: 0" : ""
      }${pageSize ? `, limit: ${pageLimit}, limit_param: ${y(pageSize)}` : ""}${
        totalPages ? `, total_pages_path: ${y(totalPages)}` : ""
      } }`,
    );
  } else if (others) {
    lines.push(...others);
  } else {
    lines.push(
      `  # guessed: no paginator recognised (no cursor, next URL, Link header, page or offset`,
      `  # guessed: parameters in the description): each listing reads its first page only`,
    );
  }
  if (fieldsParam) {
    lines.push(`  fields_param: ${y(fieldsParam)}`);
    const keys = [...new Set(chosen.map((c) => keyField(c.fields) ?? "id"))];
    lines.push(
      `  # guessed: records carry their key whatever the field list asks`,
      `  always_returned: [${keys.join(", ")}]`,
    );
  }
  if (limits.length > 0) lines.push(`  params: { limit: ${Math.min(...limits)} }`);
  lines.push(``, `resources:`);

  for (const c of chosen) {
    const key = keyField(c.fields);
    const name = nameOf.get(c)!;
    lines.push(`  ${name}:`);
    if (added.has(c.path)) lines.push(`    # added: the parent of a chosen path`);
    // path parameters become placeholders on the parent's key
    let path = c.path;
    const parents: string[] = [];
    for (const param of c.pathParams) {
      const parent = c.resourceOf(param);
      if (names.has(parent) && parent !== name) {
        const parentKey = keyField(byName.get(parent)!.fields) ?? "id";
        path = path.replace(`{${param}}`, `{${parent}.${parentKey}}`);
        parents.push(parent);
      } else {
        lines.push(
          `    # guessed: {${param}} has no listing among the chosen paths; set it by hand`,
        );
      }
    }
    lines.push(`    path: ${y(path)}`);
    const params: string[] = [];
    // a query parameter that names another chosen resource (workspace → workspaces)
    for (const q of c.query) {
      const parent = c.resourceOf(q.name);
      if (
        parents.length === 0 && names.has(parent) && parent !== c.name && !/fields/.test(q.name)
      ) {
        const parentKey = keyField(byName.get(parent)!.fields) ?? "id";
        params.push(`${q.name}: "{${parent}.${parentKey}}"`);
        parents.push(parent);
        lines.push(`    # guessed: ?${q.name}= takes a ${singular(parent)} of ${parent}`);
      } else if (
        q.required && !["limit", "offset"].includes(q.name) && q.name !== fieldsParam &&
        q.name !== queryKey
      ) {
        if (q.default !== undefined) {
          lines.push(`    # guessed: ?${q.name}= is required; the description's default`);
          params.push(`${q.name}: ${y(q.default)}`);
        } else {
          lines.push(`    # guessed: ?${q.name}= is required; give it a value`);
          params.push(`${q.name}: ""`);
        }
      }
    }
    if (parents.length > 0) {
      lines.push(`    parent: ${parents.length === 1 ? parents[0] : `[${parents.join(", ")}]`}`);
    }
    if (params.length > 0) lines.push(`    params: { ${params.join(", ")} }`);
    if (c.records !== records) {
      lines.push(
        `    # recognised: the records are the list at ${c.records || "the top"} of each answer`,
      );
      lines.push(`    records: ${y(c.records ?? "")}`);
    }
    if (key) lines.push(`    primary_key: ${key}`);
    lines.push(`    write_disposition: replace`);
    const q = fieldsParam ? c.query.find((x) => x.name === fieldsParam) : undefined;
    if (q?.allowed) {
      const fields = [
        ...new Set([
          ...(key ? [key] : []),
          // the field list's top-level names, less the paging ones of next_page
          ...q.allowed.filter((f) => !f.includes(".") && !c.pagingFields.includes(f)),
        ]),
      ];
      lines.push(`    fields: [${fields.map(y).join(", ")}]`);
      const hints = fields.flatMap((f) => {
        const s = c.fields.get(f);
        const hint = s && HINTS.find(([test]) => test(s))?.[1];
        return hint && f !== key ? [`${y(f)}: ${y(hint)}`] : [];
      });
      if (hints.length > 0) {
        lines.push(
          `    # from the response schema's types`,
          `    columns: { ${hints.join(", ")} }`,
        );
      }
    }
    lines.push(``);
  }
  return lines.join("\n");
}
