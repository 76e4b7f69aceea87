/**
 * The run's HTTP client: auth, the limiter, retries, and errors with the context
 * a user can act on (resource, parent, method, URL without secrets, status, the
 * API's own message).
 *
 * @module
 */
import { FetchError, ofetch } from "ofetch";
import type { Auth, Source } from "../spec/schema.ts";
import { Limiter } from "./limiter.ts";

/** Who is asking: named in errors. */
export interface RequestContext {
  resource: string;
  /** The parent record's key, when the resource fans out. */
  parentKey?: string;
  /** Error statuses to retry besides 429, 408 and 5xx (status rules saying `retry`). */
  retryStatuses?: ReadonlySet<number>;
}

/** A JSON response. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Counters the run summary shows. */
export interface HttpStats {
  requests: number;
  /** Requests (retries included) per resource. */
  byResource: Map<string, number>;
  retries: number;
  throttled: number;
}

/** A request that failed for good. */
export class HttpError extends Error {
  /** HTTP status, or 0 when no response came. */
  readonly status: number;
  /** The API's own message, when it gave one. */
  readonly apiMessage: string | undefined;
  /** The URL with secrets removed. */
  readonly url: string;
  readonly context: RequestContext;

  /** Creates the error. */
  constructor(
    context: RequestContext,
    url: string,
    status: number,
    apiMessage: string | undefined,
    detail: string,
  ) {
    const who = context.parentKey === undefined
      ? context.resource
      : `${context.resource} (parent ${context.parentKey})`;
    const what = status === 0
      ? detail
      : `HTTP ${status}${apiMessage ? `: ${apiMessage}` : detail ? `: ${detail}` : ""}`;
    super(`${who}: GET ${url} failed: ${what}`);
    this.name = "HttpError";
    this.status = status;
    this.apiMessage = apiMessage;
    this.url = url;
    this.context = context;
  }
}

/** The message an API put in its error body (`errors[].message`, `message`, `error`…). */
export function apiMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body.trim().slice(0, 500) || undefined;
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.errors)) {
    const msgs = b.errors
      .map((
        e,
      ) => (typeof e === "object" && e !== null ? (e as Record<string, unknown>).message : e))
      .filter((m): m is string => typeof m === "string");
    if (msgs.length) return msgs.join("; ");
  }
  for (const k of ["message", "error", "detail", "error_description"]) {
    if (typeof b[k] === "string") return b[k] as string;
  }
  return undefined;
}

/** Parses `Retry-After`: seconds or an HTTP date; milliseconds to wait. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** One client per run. */
export class HttpClient {
  readonly #source: Source;
  readonly #origin: string;
  readonly #limiter: Limiter;
  readonly #secrets: string[];
  /** Counters for the summary. */
  readonly stats: HttpStats = { requests: 0, byResource: new Map(), retries: 0, throttled: 0 };

  /** Creates the client for a source (validated: insecure base URLs were refused there). */
  constructor(source: Source) {
    this.#source = source;
    const base = new URL(source.base_url);
    this.#origin = base.origin;
    this.#limiter = new Limiter({
      requestsPerMinute: source.limits.requests_per_minute,
      maxInFlight: source.limits.max_in_flight,
    });
    this.#secrets = secretsOf(source.auth).filter((s) => s.length >= 4);
  }

  /** The absolute URL for a path below the base URL (or an absolute URL as is). */
  resolve(path: string): URL {
    if (/^https?:\/\//.test(path)) return new URL(path);
    const base = this.#source.base_url.replace(/\/+$/, "");
    return new URL(base + (path.startsWith("/") ? path : `/${path}`));
  }

  /** Removes every secret from a string (URLs, messages). */
  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) {
      out = out.replaceAll(s, "***").replaceAll(encodeURIComponent(s), "***");
    }
    return out;
  }

  /** GETs a URL as JSON, with auth, limiter and retries. */
  async get(
    url: URL,
    headers: Record<string, string>,
    context: RequestContext,
  ): Promise<HttpResponse> {
    const { attempts, timeout_seconds: timeout, backoff_seconds: backoff } = this.#source.retry;
    const sameOrigin = url.origin === this.#origin;
    const finalUrl = new URL(url);
    const finalHeaders: Record<string, string> = { accept: "application/json", ...headers };
    if (sameOrigin) applyAuth(this.#source.auth, finalUrl, finalHeaders);
    const shown = this.redact(finalUrl.toString());
    for (let attempt = 1;; attempt++) {
      const release = await this.#limiter.acquire();
      let response: HttpResponse | undefined;
      let failure: string | undefined;
      try {
        this.stats.requests++;
        this.stats.byResource.set(
          context.resource,
          (this.stats.byResource.get(context.resource) ?? 0) + 1,
        );
        const r = await ofetch.raw(finalUrl.toString(), {
          headers: finalHeaders,
          retry: 0,
          timeout: timeout * 1000,
          ignoreResponseError: true,
          responseType: "json",
        });
        response = { status: r.status, headers: r.headers, body: r._data };
      } catch (e) {
        failure = e instanceof FetchError ? describeFetchError(e) : String(e);
      } finally {
        release();
      }
      const status = response?.status ?? 0;
      if (response && status < 400) return response;
      const retryable = response === undefined || status === 429 || status === 408 ||
        status >= 500 || (context.retryStatuses?.has(status) ?? false);
      if (!retryable || attempt >= attempts) {
        const msg = response ? apiMessage(response.body) : undefined;
        const detail = failure ?? (attempt > 1 ? `after ${attempt} attempts` : "");
        throw new HttpError(context, shown, status, msg && this.redact(msg), this.redact(detail));
      }
      this.stats.retries++;
      let wait = backoff * 1000 * 2 ** (attempt - 1) * (0.5 + Math.random());
      if (status === 429) {
        this.stats.throttled++;
        const after = retryAfterMs(response!.headers.get("retry-after"));
        if (after !== undefined) wait = after;
        this.#limiter.pause(wait);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

function describeFetchError(e: FetchError): string {
  const cause = e.cause instanceof Error ? e.cause.message : e.message;
  if (/abort|timeout/i.test(cause)) return "timed out";
  return `connection failed (${cause.split("\n")[0]})`;
}

function secretsOf(auth: Auth): string[] {
  switch (auth.type) {
    case "bearer":
      return [auth.token];
    case "api_key":
      return [auth.api_key];
    case "basic":
      return [auth.password, btoa(`${auth.username}:${auth.password}`)];
    case "none":
      return [];
  }
}

function applyAuth(auth: Auth, url: URL, headers: Record<string, string>): void {
  switch (auth.type) {
    case "bearer":
      headers.authorization = `Bearer ${auth.token}`;
      return;
    case "api_key":
      if (auth.location === "query") url.searchParams.set(auth.name, auth.api_key);
      else headers[auth.name] = auth.api_key;
      return;
    case "basic":
      headers.authorization = `Basic ${btoa(`${auth.username}:${auth.password}`)}`;
      return;
    case "none":
      return;
  }
}
