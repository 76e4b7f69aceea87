/**
 * The paginator protocol. A paginator type is one module: the schema of its settings
 * (what a spec may write) and its behaviour. For each listing the driver
 * (`extract/paginate.ts`) creates a fresh {@linkcode PageCursor} from the settings,
 * lets it set the first request's parameters, and after each page asks it for the next
 * page's URL; loop guards, restarts, `has_more_path`, empty pages and `max_pages` are
 * the driver's, the same for every type.
 *
 * @module
 */
import type { Infer, SettingsSchema } from "../../core/schemas.ts";

/** What a paginator may read of a response. */
export interface PageResponse {
  /** The parsed JSON body. */
  body: unknown;
  /** The response headers. */
  headers: Headers;
}

/** One listing's paging position. */
export interface PageCursor {
  /** Sets the first request's paging parameters (the first page's number, a limit…). */
  first(url: URL): void;
  /** The next page's URL after this page, or undefined: this was the last page. */
  next(current: URL, response: PageResponse, records: readonly unknown[]): URL | undefined;
}

/** A paginator type: its spec settings and its behaviour. */
export interface PaginatorType<
  S extends SettingsSchema,
> {
  /** The `type:` a spec names it by. */
  readonly type: string;
  /** The schema of its settings (a strict object with `type` as a literal). */
  readonly schema: S;
  /** Does it follow pages (and take the common settings), or make one request? */
  readonly multiPage: boolean;
  /** Does an empty page end a listing unless the spec says otherwise? */
  readonly stopsOnEmptyPage: boolean;
  /** A fresh cursor for one listing. */
  cursor(settings: Infer<S>): PageCursor;
  /** The query parameters it sets itself (not the spec's to declare). */
  params(settings: Infer<S>): string[];
  /** The parameter the API must honour for paging to advance (for loop messages). */
  advances(settings: Infer<S>): string;
}
