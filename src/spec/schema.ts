/**
 * The pipeline spec language, as valibot schemas. Every TypeScript type of a
 * spec is inferred from these schemas.
 *
 * @module
 */
import * as v from "valibot";
import { type Infer, picklist, positiveInt } from "../core/schemas.ts";
import { AuthSchema } from "../connect/auth/mod.ts";
import { PaginatorSchema } from "../connect/paginators/mod.ts";

export { oneOf } from "../core/schemas.ts";
export { type Auth, AuthSchema } from "../connect/auth/mod.ts";
export { type Paginator, PaginatorSchema, RestartOnSchema } from "../connect/paginators/mod.ts";

const name = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a name of letters, digits and _"),
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

/**
 * How a resource's rows are written into its table.
 *
 * @ignore
 */
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

/**
 * A column type hint.
 *
 * @ignore
 */
export const ColumnTypeSchema = picklist(COLUMN_TYPES);

/**
 * What to do with an error status: skip the request (counted), fail the run, or retry it.
 *
 * @ignore
 */
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
     * Fields the API returns whether asked or not (an id, a type name):
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
 *
 * @ignore
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

/**
 * A change feed per parent record (partition) of an incremental, reconciled resource:
 * where it is, how its token travels, and which fields of an event name records.
 *
 * @ignore
 */
export const ChangesSchema = v.strictObject({
  /** The feed's path; placeholders name the resource's parents, as in its own path. */
  path: v.string(),
  /**
   * The parents whose partitions have this feed (default: every parent). A partition
   * under another parent has none: each of its listings lists every record whole.
   */
  parent: v.optional(v.union([name, v.pipe(v.array(name), v.minLength(1))])),
  /** Query parameters of the feed (placeholders allowed); the source's are not sent. */
  params: v.optional(ParamsSchema, {}),
  /** The query parameter that carries the token. */
  token_param: v.string(),
  /** Where the response (and the answer to a refused token) holds the next token. */
  token_path: v.string(),
  /** Where the events are in a response (default: the source's `records`). */
  records: v.optional(v.string()),
  /** A boolean in the response: true when more events wait (ask again at once). */
  has_more_path: v.optional(v.string()),
  /** The status of an answer that refuses a token (missing, invalid or too old). */
  expired_status: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(400), v.maxValue(499)),
    412,
  ),
  /**
   * Paths in each event whose values are record keys: the records named, of this
   * resource or of any resource below it, are listed again whole with their children.
   */
  keys: v.pipe(v.array(v.string()), v.minLength(1)),
  /**
   * The safety net of a feed that may lose events: each partition is listed again whole
   * once this old (spread over the period, partition by partition).
   */
  relist_every: v.optional(DurationSchema),
});

/**
 * One API endpoint that fills one table (and its child tables).
 *
 * @ignore
 */
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
    [
      v.array(scalar),
      v.string(),
      v.record(name, v.union([v.array(scalar), v.string()])),
    ],
    "expected a list of values, a comma-separated string, a placeholder such as {users.workspaces}, or a map of parent name to one of them",
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
  /**
   * Fields of the parent record (for every parent, or per parent name) whose change makes
   * this listing due at once, whatever `refresh_every` says: a listing under a parent
   * record whose values of these fields differ from those it had at its last complete
   * listing runs at the next run (`custom_field_settings`: a project that lists its
   * settings). Needs `refresh_every`.
   */
  refresh_on: v.optional(v.union(
    [
      v.pipe(v.array(v.string()), v.minLength(1)),
      v.record(name, v.pipe(v.array(v.string()), v.minLength(1))),
    ],
    "expected a list of the parent's fields, or a map of parent name to such a list",
  )),
  params: v.optional(ParamsSchema),
  /**
   * Query parameters per parent name, over `params`: the parents of a union may be
   * listed by different parameters (`projects: {project: "{projects.gid}"}`).
   */
  parent_params: v.optional(v.record(name, ParamsSchema)),
  headers: v.optional(HeadersSchema),
  /**
   * Keep only the records for which this expression on the record's own fields holds
   * (for every parent, or per parent name): the others are dropped as if the API had not
   * listed them (`"not projects"`: records in no project).
   */
  keep: v.optional(v.union(
    [v.string(), v.record(name, v.string())],
    'expected an expression such as "not projects", or a map of parent name to expression',
  )),
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
    v.union(
      [
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
          /**
           * How a run after the first finds the keys: `keys` (the default), a key-only
           * listing beside the incremental one; `records`, one listing of whole records a
           * partition (no incremental filter) that is both: a record whose cursor or
           * watched values moved, that is new, or that a change feed names gets its
           * children, the others are written as listed and need no child request.
           */
          listing: v.optional(picklist(["keys", "records"])),
          /**
           * Ask for a record by itself before deleting it: a path with `{record.<key
           * field>}` placeholders (`/tasks/{record.gid}`). A stored record that no listing
           * returned and whose parent was listed to the end is deleted only when this
           * request answers 404 or 410; a record in the answer keeps its row. Without it,
           * every key no complete listing returned is deleted.
           */
          verify: v.optional(v.string()),
          /**
           * With `listing: records`: the child resources whose every change moves the
           * parent record's cursor (Asana: an attachment added or deleted moves its task's
           * `modified_at`). When nothing tells what changed below a partition (its feed's
           * safety net is due, its token was refused or failed, or no feed covers it),
           * these are listed only under records whose cursor or watched values moved, or
           * that are new; every other child is listed again under every record, with
           * everything below it. Without it such a partition's records are all listed
           * again whole.
           */
          moves_cursor: v.optional(v.pipe(v.array(name), v.minLength(1))),
        }),
      ],
      "expected true, false or {fields: [...], watch: [...], listing: keys|records, verify: path, moves_cursor: [...]}",
    ),
    false,
  ),
  /** A change feed per parent record: events name the records to list again. */
  changes: v.optional(ChangesSchema),
});

/**
 * A view's query: one `select` (or `with … select`), without a trailing semicolon.
 *
 * @ignore
 */
export const ViewSqlSchema = v.pipe(
  v.string(),
  v.transform((s) => s.trim().replace(/;\s*$/, "")),
  v.check(
    (s) => /^(select|with)\b/i.test(s),
    "expected a query that starts with select or with",
  ),
  v.check((s) => !s.includes(";"), "expected one query, without ;"),
);

/**
 * A whole pipeline spec file.
 *
 * @ignore
 */
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
  /**
   * SQL views made in the dataset after every load, in the run's transaction: name →
   * a `select` over the dataset's tables (named without their schema). Made in the
   * order written, so a view may read the ones above it.
   */
  views: v.optional(v.record(name, ViewSqlSchema)),
});

/** A validated spec. */
export type Spec = Infer<typeof SpecSchema>;
/** A validated source. */
export type Source = Spec["source"];
/** A validated change feed. */
export type Changes = Infer<typeof ChangesSchema>;
/** A validated resource, as written in the spec. */
export type ResourceSpec = Infer<typeof ResourceSchema>;
/** One of replace, append or merge. */
export type WriteDisposition = Infer<typeof WriteDispositionSchema>;
/** An incremental configuration. */
export type Incremental = Infer<typeof IncrementalSchema>;
/** Status rules: status code → skip, fail or retry. */
export type StatusRules = Infer<typeof StatusRulesSchema>;
/** A column type a hint may name. */
export type ColumnType = Infer<typeof ColumnTypeSchema>;
