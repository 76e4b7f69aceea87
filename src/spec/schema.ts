/**
 * The pipeline spec language, as valibot schemas. Every TypeScript type of a
 * spec is inferred from these schemas.
 *
 * @module
 */
import * as v from "valibot";

/** Formats the list of allowed values the way error messages show it: `a, b or c`. */
export function oneOf(values: readonly string[]): string {
  if (values.length <= 1) return values.join("");
  return `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
}

function picklist<const T extends readonly [string, ...string[]]>(values: T) {
  return v.picklist(
    values,
    (issue) => `expected ${oneOf(values)}, got ${issue.received}`,
  );
}

const name = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a name of letters, digits and _"),
);

const positiveInt = v.pipe(
  v.number(),
  v.integer("expected a whole number"),
  v.minValue(1, "expected a number of at least 1"),
);

const scalar = v.union(
  [v.string(), v.number(), v.boolean()],
  (issue) => `expected a string, number or boolean, got ${issue.received}`,
);

/**
 * Query parameters: a value may hold `{resource.field}` placeholders; a list sends the
 * key once per element (`_json=a&_json=b`); `null` removes a parameter inherited from
 * the source or the defaults.
 */
export const ParamsSchema = v.record(
  v.string(),
  v.union(
    [scalar, v.array(scalar), v.null()],
    (issue) => `expected a string, number, boolean, a list of them, or null, got ${issue.received}`,
  ),
);

/**
 * HTTP headers sent with every request of a source or resource; a value may hold
 * placeholders, and `null` removes a header inherited from the source or the defaults.
 */
export const HeadersSchema = v.record(v.string(), v.nullable(v.string()));

/** The write dispositions a resource may declare. */
export const WRITE_DISPOSITIONS = ["replace", "append", "merge", "scd2"] as const;

/** How a resource's rows are written into its table. */
export const WriteDispositionSchema = picklist(WRITE_DISPOSITIONS);

/** Column types that `columns:` hints may name. */
export const COLUMN_TYPES = [
  "text",
  "bigint",
  "double precision",
  "numeric",
  "boolean",
  "timestamptz",
  "date",
  "jsonb",
] as const;

/** A column type hint. */
export const ColumnTypeSchema = picklist(COLUMN_TYPES);

/** Auth: a bearer token, an API key in a header or the query, HTTP basic, or none. */
export const AuthSchema = v.variant("type", [
  v.strictObject({ type: v.literal("bearer"), token: v.string() }),
  v.strictObject({
    type: v.literal("api_key"),
    name: v.string(),
    api_key: v.string(),
    location: v.optional(picklist(["header", "query"]), "header"),
  }),
  v.strictObject({ type: v.literal("basic"), username: v.string(), password: v.string() }),
  v.strictObject({ type: v.literal("none") }),
], (issue) => `expected auth type bearer, api_key, basic or none, got ${issue.received}`);

/**
 * An error answer that means "start this listing again from its first page"
 * (an expired pagination token); records already seen are not loaded twice.
 */
export const RestartOnSchema = v.strictObject({
  status: v.pipe(v.number(), v.integer(), v.minValue(400), v.maxValue(599)),
  /** Text the API's error message must contain. */
  message: v.optional(v.string()),
});

const restartOn = v.optional(RestartOnSchema);

/** Options every paginator but `single` takes. */
const common = {
  restart_on: restartOn,
  /** Stop each listing after this many pages (also settable per resource). */
  max_pages: v.optional(positiveInt),
  /** Dotted path of a boolean in the body: `false` means this was the last page. */
  has_more_path: v.optional(v.string()),
  /**
   * Does an empty page end the listing? Default: yes for `offset` and `page_number`, no
   * for the paginators that follow a cursor or a link (an API may answer an empty page
   * that still has a next one).
   */
  stop_after_empty_page: v.optional(v.boolean()),
};

/** Paginators: how to ask for the next page of a listing. */
export const PaginatorSchema = v.variant(
  "type",
  [
    v.strictObject({
      type: v.literal("cursor"),
      ...common,
      /** Dotted path of the next cursor in the response body. */
      cursor_path: v.optional(v.string(), "next_page.offset"),
      /** A response header carrying the next cursor, instead of `cursor_path`. */
      cursor_header: v.optional(v.string()),
      /** Query parameter that carries the cursor. */
      cursor_param: v.optional(v.string(), "offset"),
    }),
    v.strictObject({
      type: v.literal("next_url"),
      ...common,
      /** Dotted path of the next page's absolute URL in the response body. */
      next_url_path: v.string(),
    }),
    v.strictObject({
      type: v.literal("offset"),
      ...common,
      limit: positiveInt,
      offset_param: v.optional(v.string(), "offset"),
      limit_param: v.optional(v.string(), "limit"),
      /** Send the end index (`_start=20&_end=40`) in this parameter instead of the limit. */
      end_param: v.optional(v.string()),
      /** Dotted path of the total count, when the API returns one. */
      total_path: v.optional(v.string()),
      /** A response header with the total count (`X-Total-Count`). */
      total_header: v.optional(v.string()),
    }),
    v.strictObject({
      type: v.literal("page_number"),
      ...common,
      page_param: v.optional(v.string(), "page"),
      /** The first page's number (1 unless the API counts from 0). */
      base_page: v.optional(v.number(), 1),
      /** Records per page, sent in `limit_param` (and used with a total count). */
      limit: v.optional(positiveInt),
      limit_param: v.optional(v.string(), "limit"),
      /** Dotted path of the number of pages, when the API returns one. */
      total_pages_path: v.optional(v.string()),
      /** Dotted path of the total count of records (needs `limit`). */
      total_path: v.optional(v.string()),
      /** A response header with the total count of records (needs `limit`). */
      total_header: v.optional(v.string()),
    }),
    v.strictObject({
      type: v.literal("link_header"),
      ...common,
      rel: v.optional(v.string(), "next"),
    }),
    v.strictObject({ type: v.literal("single") }),
  ],
  (issue) =>
    `expected paginator type cursor, next_url, offset, page_number, link_header or single, got ${issue.received}`,
);

/** What to do with an error status: skip the request (counted), fail the run, or retry it. */
export const StatusRulesSchema = v.record(
  v.pipe(v.string(), v.regex(/^[45]\d\d$/, "expected an HTTP error status such as 404")),
  picklist(["skip", "fail", "retry"]),
);

/** Client-side limits on the request rate (enforced by the HTTP client). */
export const LimitsSchema = v.strictObject({
  requests_per_minute: v.optional(positiveInt),
  max_in_flight: v.optional(positiveInt, 8),
});

/** Retry policy for 429, 5xx, timeouts and dropped connections. */
export const RetrySchema = v.strictObject({
  attempts: v.optional(positiveInt, 5),
  /** Bounds a whole response, headers and body, from the request on. */
  timeout_seconds: v.optional(v.pipe(v.number(), v.minValue(0.001)), 60),
  backoff_seconds: v.optional(v.pipe(v.number(), v.minValue(0)), 1),
  /** A response body larger than this fails the request. */
  max_response_mb: v.optional(v.pipe(v.number(), v.minValue(0.001)), 256),
  /** A `Retry-After` or backoff longer than this fails the request at once. */
  max_wait_seconds: v.optional(v.pipe(v.number(), v.minValue(0)), 120),
});

/** The retry policy used when a spec sets none. */
export const DEFAULT_RETRY = {
  attempts: 5,
  timeout_seconds: 60,
  backoff_seconds: 1,
  max_response_mb: 256,
  max_wait_seconds: 120,
} as const;

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/** Is this host name a loopback address (`localhost`, 127.x.x.x, `[::1]`, `::1`)? */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host) || host === "::1";
}

/** Is this URL plain http:// to a host other than loopback? */
export function isInsecureUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === "http:" && !isLoopbackHost(u.hostname);
  } catch {
    return false;
  }
}

/** The API a pipeline reads from. */
export const SourceSchema = v.pipe(
  v.strictObject({
    base_url: v.pipe(
      v.string(),
      v.url("expected an absolute URL such as https://api.example.com"),
      v.check(
        (u) => /^https?:\/\//i.test(u),
        "expected an http:// or https:// URL such as https://api.example.com",
      ),
    ),
    auth: v.optional(AuthSchema, { type: "none" }),
    /** Dotted path to the list of records in a response; "" for the body itself. */
    records: v.optional(v.string(), ""),
    paginator: v.optional(PaginatorSchema, { type: "single" }),
    /** Query parameter that receives a resource's `fields`, joined with commas. */
    fields_param: v.optional(v.string()),
    params: v.optional(ParamsSchema, {}),
    headers: v.optional(HeadersSchema, {}),
    limits: v.optional(LimitsSchema, { max_in_flight: 8 }),
    retry: v.optional(RetrySchema, DEFAULT_RETRY),
    /** Allow a plain http:// base URL to a host other than loopback. */
    allow_insecure_http: v.optional(v.boolean(), false),
    /** Status rules for every resource, e.g. `{404: skip}`. */
    on_status: v.optional(StatusRulesSchema, {}),
    /**
     * Fields the API returns whether asked or not (Asana's `gid`, `resource_type`):
     * `check --openapi` accepts them in any resource's `fields`.
     */
    always_returned: v.optional(v.array(v.string()), []),
  }),
  v.forward(
    v.check(
      (s) => s.allow_insecure_http || !isInsecureUrl(s.base_url),
      "plain http:// to a non-loopback host would send the token in clear; use https:// or set allow_insecure_http: true",
    ),
    ["base_url"],
  ),
);

/** Primary key: one column or several. */
export const PrimaryKeySchema = v.union(
  [v.string(), v.pipe(v.array(v.string()), v.minLength(1))],
  "expected a field name or a list of field names",
);

/** Parent fields copied into each child record: a list, or a map of new name to parent field. */
export const IncludeFromParentSchema = v.union(
  [v.array(v.string()), v.record(v.string(), v.string())],
  "expected a list of parent fields or a map of column name to parent field",
);

/** Column hints: a type name, or an object with a type. */
export const ColumnHintSchema = v.union([
  ColumnTypeSchema,
  v.strictObject({
    type: ColumnTypeSchema,
    /** How numbers become instants or dates: seconds or milliseconds since the epoch. */
    format: v.optional(picklist(["epoch_s", "epoch_ms"])),
  }),
]);

/**
 * Cursor-based incremental loading: each request chain (one per parent record, a
 * partition) keeps its own cursor, the greatest `cursor` value it has seen. The
 * `{incremental.start}` placeholder sends it (less `lag_seconds`) to the API; the
 * lower bound is inclusive and the primary key deduplicates.
 */
export const IncrementalSchema = v.strictObject({
  /** Dotted path of the cursor field in each record, e.g. `modified_at`. */
  cursor: v.string(),
  /** The start value before any state exists. */
  initial: v.string(),
  /** Seconds subtracted from the stored cursor (for clock skew between API servers). */
  lag_seconds: v.optional(v.pipe(v.number(), v.minValue(0)), 0),
});

/** A duration: a number and a unit, `s`, `m`, `h` or `d` (`90m`, `24h`, `7d`). */
export const DurationSchema = v.pipe(
  v.string(),
  v.regex(/^\d+(\.\d+)?(s|m|h|d)$/, "expected a duration such as 90m, 24h or 7d"),
);

/** Milliseconds of a validated duration. */
export function durationMs(text: string): number {
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[text.slice(-1)]!;
  return Number(text.slice(0, -1)) * unit;
}

/** Settings every resource inherits unless it sets its own. */
export const DefaultsSchema = v.strictObject({
  write_disposition: v.optional(WriteDispositionSchema),
  primary_key: v.optional(PrimaryKeySchema),
  max_nesting: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  params: v.optional(ParamsSchema),
  headers: v.optional(HeadersSchema),
  max_pages: v.optional(positiveInt),
});

/** One API endpoint that fills one table (and its child tables). */
export const ResourceSchema = v.strictObject({
  /** Path below the base URL; may hold `{resource.field}` placeholders. */
  path: v.string(),
  /**
   * The resource(s) whose records this one fans out over: one request chain per parent
   * record. Several parents make a union; naming the resource itself makes it recursive.
   */
  parent: v.optional(v.union(
    [name, v.pipe(v.array(name), v.minLength(1))],
    "expected a resource name or a list of resource names",
  )),
  /**
   * One request chain per element, as `{item}` / `{item.field}`: a list of values, a
   * comma-separated string (e.g. from `${VAR}`), or a placeholder naming a list in an
   * ancestor record (`"{users.workspaces}"`).
   */
  for_each: v.optional(v.union(
    [v.array(scalar), v.string()],
    "expected a list of values, a comma-separated string or a placeholder such as {users.workspaces}",
  )),
  /**
   * When a parent record needs a request at all, from its own fields: an expression
   * (`num_subtasks > 0`, `is_organization`, `type == 'x' and not archived`) for every
   * parent, or one per parent name. A parent record for which it is false is a listing
   * known to be empty: no request, and its rows of this resource are replaced by none.
   */
  when: v.optional(v.union(
    [v.string(), v.record(name, v.string())],
    'expected an expression such as "num_subtasks > 0", or a map of parent name to expression',
  )),
  /**
   * List this resource again only when its last complete listing is older than this
   * (`30m`, `12h`, `7d`), for every parent or per parent name; until then its rows stay
   * as they are. `--full-refresh` lists everything.
   */
  refresh_every: v.optional(v.union(
    [DurationSchema, v.record(name, DurationSchema)],
    "expected a duration such as 24h, or a map of parent name to duration",
  )),
  params: v.optional(ParamsSchema),
  headers: v.optional(HeadersSchema),
  /** Fields to request through the source's `fields_param`. */
  fields: v.optional(v.array(v.string())),
  include_from_parent: v.optional(IncludeFromParentSchema),
  write_disposition: v.optional(WriteDispositionSchema),
  primary_key: v.optional(PrimaryKeySchema),
  /** Table name; the resource name by default. */
  table: v.optional(v.string()),
  /** Nested levels that become columns or child tables; deeper values are stored as jsonb. */
  max_nesting: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  columns: v.optional(v.record(v.string(), ColumnHintSchema)),
  records: v.optional(v.string()),
  paginator: v.optional(PaginatorSchema),
  /** Status rules for this resource, over the source's. */
  on_status: v.optional(StatusRulesSchema),
  enabled: v.optional(v.boolean(), true),
  /**
   * Stop each listing after this many pages. A capped listing is incomplete: it
   * deletes nothing and moves no cursor.
   */
  max_pages: v.optional(positiveInt),
  incremental: v.optional(IncrementalSchema),
  /**
   * List the keys of this incremental resource in every run (one key-only listing per
   * parent) and delete the rows, and their children, that the API no longer has.
   */
  reconcile: v.optional(
    v.union([
      v.boolean(),
      v.strictObject({
        /**
         * Fields of the key-only listing (default: the primary key), for an API that
         * refuses the key itself as a field or needs more to tell records apart.
         */
        fields: v.optional(v.pipe(v.array(v.string()), v.minLength(1))),
        /**
         * Scalar fields the key-only listing also reads. A listed record whose value
         * differs from its stored row's changed without moving its cursor (a count of
         * children, say): it is listed again whole, and its children with it.
         */
        watch: v.optional(v.pipe(v.array(v.string()), v.minLength(1))),
      }),
    ], "expected true, false or {fields: [...], watch: [...]}"),
    false,
  ),
});

/** A whole pipeline spec file. */
export const SpecSchema = v.strictObject({
  /** A JSON Schema reference for editors; ignored by restpipe. */
  $schema: v.optional(v.string()),
  pipeline: name,
  dataset: name,
  /** Sections of `.dlt/secrets.toml` / `.dlt/config.toml` searched for unset variables. */
  config_sections: v.optional(v.array(v.string())),
  source: SourceSchema,
  defaults: v.optional(DefaultsSchema, {}),
  resources: v.pipe(
    v.record(name, ResourceSchema),
    v.check((r) => Object.keys(r).length > 0, "expected at least one resource"),
  ),
});

/** A validated spec. */
export type Spec = v.InferOutput<typeof SpecSchema>;
/** A validated source. */
export type Source = Spec["source"];
/** A validated resource, as written in the spec. */
export type ResourceSpec = v.InferOutput<typeof ResourceSchema>;
/** A paginator configuration. */
export type Paginator = v.InferOutput<typeof PaginatorSchema>;
/** An auth configuration. */
export type Auth = v.InferOutput<typeof AuthSchema>;
/** One of replace, append or merge. */
export type WriteDisposition = v.InferOutput<typeof WriteDispositionSchema>;
/** An incremental configuration. */
export type Incremental = v.InferOutput<typeof IncrementalSchema>;
/** Status rules: status code → skip, fail or retry. */
export type StatusRules = v.InferOutput<typeof StatusRulesSchema>;
/** A column type a hint may name. */
export type ColumnType = v.InferOutput<typeof ColumnTypeSchema>;
