/**
 * The paginator table: every paginator type, registered once. The spec's
 * `paginator:` schema is built from it, and the driver looks each listing's type up
 * in it, so the language and the behaviour cannot drift apart. To add a paginator,
 * write its module (schema and behaviour, as `cursor.ts`) and add it here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PaginatorSchema, paginatorOf } from "./mod.ts";
 * import * as v from "valibot";
 * const settings = v.parse(PaginatorSchema, { type: "page_number", limit: 50 });
 * const url = new URL("https://api.example.com/books");
 * paginatorOf(settings).cursor(settings).first(url);
 * assert.deepEqual(url.search, "?page=1&limit=50");
 * ```
 *
 * @module
 */
import * as v from "valibot";
import { type Infer, oneOf } from "../../core/schemas.ts";
import { cursorPaginator } from "./cursor.ts";
import { nextUrlPaginator } from "./next_url.ts";
import { offsetPaginator } from "./offset.ts";
import { pageNumberPaginator } from "./page_number.ts";
import { linkHeaderPaginator } from "./link_header.ts";
import { singlePaginator } from "./single.ts";
import type { PageCursor } from "./types.ts";

export type { PageCursor, PageResponse, PaginatorType } from "./types.ts";
export { type CommonSettings, RestartOnSchema } from "./common.ts";
import type { CommonSettings } from "./common.ts";

/** Every paginator type, in the order error messages list them. */
export const PAGINATORS = [
  cursorPaginator,
  nextUrlPaginator,
  offsetPaginator,
  pageNumberPaginator,
  linkHeaderPaginator,
  singlePaginator,
] as const;

type Schemas<T extends readonly { schema: unknown }[]> = {
  -readonly [K in keyof T]: T[K]["schema"];
};

/**
 * Paginators: how to ask for the next page of a listing (one of {@linkcode PAGINATORS}).
 *
 * @ignore
 */
export const PaginatorSchema = v.variant(
  "type",
  PAGINATORS.map((p) => p.schema) as Schemas<typeof PAGINATORS>,
  (issue) =>
    `expected paginator type ${oneOf(PAGINATORS.map((p) => p.type))}, got ${issue.received}`,
);

/** A paginator's settings, as a spec gives them. */
export type Paginator = Infer<typeof PaginatorSchema>;

/** The behaviour of a paginator's settings, erased to the settings' union type. */
export interface PaginatorBehaviour {
  readonly type: string;
  readonly multiPage: boolean;
  readonly stopsOnEmptyPage: boolean;
  cursor(settings: Paginator): PageCursor;
  params(settings: Paginator): string[];
  advances(settings: Paginator): string;
}

const BY_TYPE = new Map<string, PaginatorBehaviour>(
  PAGINATORS.map((p) => [p.type, p as unknown as PaginatorBehaviour]),
);

/** The type of these settings (validated settings always have one). */
export function paginatorOf(settings: Paginator): PaginatorBehaviour {
  return BY_TYPE.get(settings.type)!;
}

/** The settings every multi-page paginator shares, or undefined for one that makes one request. */
export function commonSettings(settings: Paginator): CommonSettings | undefined {
  return paginatorOf(settings).multiPage ? settings as CommonSettings : undefined;
}
