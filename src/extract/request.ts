/**
 * The first request of a chain: path, params and headers filled from the ancestors'
 * records, the `for_each` item and the incremental start.
 *
 * @module
 */
import type { Plan, PlannedResource } from "../plan/plan.ts";
import { getPath } from "../core/paths.ts";
import { render } from "../spec/template.ts";
import { INCREMENTAL, ITEM } from "../spec/graph.ts";
import { predicatePaths } from "../spec/predicate.ts";
import { RestpipeError } from "../core/errors.ts";
import type { HttpClient } from "./http.ts";
import { type Ancestry, keyOf } from "./records.ts";

/** A runtime problem not tied to one HTTP response (a missing placeholder value…). */
export class ExtractError extends RestpipeError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, exitCode: 1 });
  }
}

/** What kind of listing a request starts. */
export interface RequestKind {
  /** The `{incremental.start}` value, for an incremental listing. */
  start?: string;
  /** A key-only listing: primary key and watched fields, no incremental filter. */
  keysOnly?: boolean;
  /** A listing of every record (no incremental filter). */
  everything?: boolean;
  /** The `for_each` element of the chain. */
  item?: unknown;
}

/** The first request of a chain: path and params filled from the ancestors' records. */
export function buildRequest(
  client: HttpClient,
  plan: Plan,
  resource: PlannedResource,
  ancestry: Ancestry,
  fieldsParam: string | undefined,
  incremental: RequestKind = {},
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
  const params = (parent && resource.paramsByParent.get(parent.resource)) ?? resource.params;
  for (const [k, value] of Object.entries(params)) {
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
    ? [
      ...new Set([
        ...resource.reconcileFields ?? resource.primaryKey,
        ...resource.reconcileWatch,
        // what `keep:` reads, so that the key listing keeps what the listings keep
        ...[...resource.keep.values()].flatMap((p) => predicatePaths(p)),
      ]),
    ]
    : resource.fields;
  if (fieldsParam && fields && fields.length > 0) {
    url.searchParams.set(fieldsParam, fields.join(","));
  }
  const headers = Object.fromEntries(
    Object.entries(resource.headers).map(([k, value]) => [k, render(value, resolve)]),
  );
  return { url, parentKey, headers };
}

/**
 * A request as the dedupe sets keep it: path and query without the field list, which is
 * the same for every request of a resource and often the longest part of a URL.
 */
export function requestKey(url: URL, fieldsParam: string | undefined): string {
  if (fieldsParam === undefined || !url.searchParams.has(fieldsParam)) {
    return url.pathname + url.search;
  }
  const u = new URL(url);
  u.searchParams.delete(fieldsParam);
  return u.pathname + u.search;
}
