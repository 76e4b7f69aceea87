/**
 * The run's HTTP client: auth, the limiter, retries, and errors with the context
 * a user can act on (resource, parent, method, URL without secrets, status, the
 * API's own message).
 *
 * @module
 */
import { recordRequest, recordRetry } from "../core/telemetry.ts";
import type { Source } from "../spec/schema.ts";
import { applyAuth, credentialsOf } from "../connect/auth/mod.ts";

export { credentialsOf } from "../connect/auth/mod.ts";
import { type JsonRepairs, parseJson } from "../core/json.ts";
import { Limiter, type LimiterSnapshot } from "./limiter.ts";
import { Redactor } from "../core/secrets.ts";
import type { Checkpoint } from "../run/checkpoint.ts";

/** Who is asking: named in errors. */
export interface RequestContext {
  /** The resource the request is made for (named in errors and counted per resource). */
  resource: string;
  /** The parent record's key, when the resource fans out. */
  parentKey?: string;
  /** Error statuses to retry besides 429, 408 and 5xx (status rules saying `retry`). */
  retryStatuses?: ReadonlySet<number>;
  /** Error statuses answered as a response (their body read), not thrown. */
  accept?: ReadonlySet<number>;
  /** Ask the API even when a checkpoint holds the answer (a listing restarted). */
  fresh?: boolean;
}

/** A JSON response. */
export interface HttpResponse {
  /** The HTTP status (2xx: an error status throws). */
  status: number;
  /** The response headers. */
  headers: Headers;
  /** The parsed JSON body. */
  body: unknown;
  /** The body's length in characters (for metrics), when it was read. */
  bytes?: number;
}

/** Counters the run summary shows. */
export interface HttpStats {
  /** Requests sent, retries included. */
  requests: number;
  /** Requests (retries included) per resource. */
  byResource: Map<string, number>;
  /** Requests sent again after a 429, a 5xx, a timeout or a dropped connection. */
  retries: number;
  /** Answers that were 429 (too many requests). */
  throttled: number;
  /** Retries per resource. */
  retriesByResource: Map<string, number>;
  /** 429s per resource. */
  throttledByResource: Map<string, number>;
  /** The last retry: why, for which resource, which attempt, and when it is sent again. */
  lastRetry?: {
    resource: string;
    reason: string;
    attempt: number;
    attempts: number;
    /** `performance.now()` when the request is sent again. */
    at: number;
  };
}

/** Adds one to a counter of a map. */
function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** A request that failed for good. */
export class HttpError extends Error {
  /** HTTP status, or 0 when no response came. */
  readonly status: number;
  /** The API's own message, when it gave one. */
  readonly apiMessage: string | undefined;
  /** The URL with secrets removed. */
  readonly url: string;
  /** The resource and parent record of the failed request. */
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
      : `HTTP ${status}${apiMessage ? `: ${apiMessage}` : ""}${
        detail ? (apiMessage ? ` (${detail})` : `: ${detail}`) : ""
      }`;
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

/** Redirects followed for one request before it fails. */
export const MAX_REDIRECTS = 10;

/** Options for {@linkcode HttpClient}. */
export interface HttpClientOptions {
  /** Every secret value of the spec (from the environment or `.dlt/*.toml`), besides auth. */
  secrets?: readonly string[];
  /** Aborts every request and wait (Ctrl-C). */
  signal?: AbortSignal;
  /** Where the base URL came from, for messages (`${ASANA_BASE_URL} in the environment`). */
  baseUrlFrom?: string;
}

/** One client per run. */
export class HttpClient {
  readonly #source: Source;
  readonly #origin: string;
  readonly #limiter: Limiter;
  readonly #redactor: Redactor;
  readonly #signal: AbortSignal | undefined;
  readonly #baseUrlFrom: string | undefined;
  /** Has any response come from the server in this run? */
  #answered = false;
  /** Counters for the summary. */
  readonly stats: HttpStats = {
    requests: 0,
    byResource: new Map(),
    retries: 0,
    throttled: 0,
    retriesByResource: new Map(),
    throttledByResource: new Map(),
  };
  /** Characters replaced in response bodies (NULs, lone surrogates). */
  readonly repairs: JsonRepairs = { replacedCharacters: 0 };

  /** Creates the client for a source (validated: insecure base URLs were refused there). */
  #checkpoint: Checkpoint | undefined;

  /**
   * From now on, requests the last (failed) run made are answered from its checkpoint,
   * and every whole answer is kept in it.
   */
  useCheckpoint(checkpoint: Checkpoint | undefined): void {
    this.#checkpoint = checkpoint;
  }

  /** Creates the client for a spec's source. */
  constructor(source: Source, options: HttpClientOptions = {}) {
    this.#source = source;
    const base = new URL(source.base_url);
    this.#origin = base.origin;
    this.#limiter = new Limiter({
      requestsPerMinute: source.limits.requests_per_minute,
      maxInFlight: source.limits.max_in_flight,
    });
    this.#redactor = new Redactor([...credentialsOf(source.auth), ...(options.secrets ?? [])]);
    this.#signal = options.signal;
    this.#baseUrlFrom = options.baseUrlFrom;
  }

  /**
   * The base URL as messages name it, with where it came from:
   * `http://127.0.0.1:8080/api/1.0 (source.base_url, from ${ASANA_BASE_URL} in the environment)`.
   */
  describeBase(): string {
    return `${this.redact(this.#source.base_url)} (source.base_url${
      this.#baseUrlFrom ? `, from ${this.#baseUrlFrom}` : ""
    })`;
  }

  /** The base URL's origin: the only one that receives credentials. */
  get origin(): string {
    return this.#origin;
  }

  /** The absolute URL for a path below the base URL (or an absolute URL as is). */
  resolve(path: string): URL {
    if (/^https?:\/\//i.test(path)) return new URL(path);
    const base = this.#source.base_url.replace(/\/+$/, "");
    return new URL(base + (path.startsWith("/") ? path : `/${path}`));
  }

  /** The rate limiter's state now: the window's use, what waiting requests wait for. */
  window(): LimiterSnapshot {
    return this.#limiter.snapshot();
  }

  /** Removes every secret from a string (URLs, messages), in every encoding. */
  redact(text: string): string {
    return this.#redactor.redact(text);
  }

  /** GETs a URL as JSON, with auth, limiter and retries. */
  async get(
    url: URL,
    headers: Record<string, string>,
    context: RequestContext,
  ): Promise<HttpResponse> {
    if (this.#checkpoint && !context.fresh) {
      const kept = await this.#checkpoint.lookup(url);
      if (kept) return kept;
    }
    const retry = this.#source.retry;
    const shown = this.redact(url.toString());
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new HttpError(
        context,
        shown,
        0,
        undefined,
        `refused: only http: and https: URLs are requested`,
      );
    }
    for (let attempt = 1;; attempt++) {
      this.#signal?.throwIfAborted();
      const release = await this.#limiter.acquire(this.#signal);
      if (this.stats.lastRetry && this.stats.lastRetry.at <= performance.now()) {
        this.stats.lastRetry = undefined;
      }
      let response: HttpResponse | undefined;
      let sentAt = performance.now();
      let failure: string | undefined;
      let fatal = false;
      try {
        this.stats.requests++;
        bump(this.stats.byResource, context.resource);
        sentAt = performance.now();
        response = await this.#fetch(url, headers);
        this.#answered = true;
      } catch (e) {
        release();
        this.#signal?.throwIfAborted();
        if (e instanceof RequestRefused) {
          failure = e.message;
          fatal = true;
        } else {
          failure = describeFetchError(e, url);
          // nothing has answered in this run: a wrong address or a server that is not
          // running, which waiting will not fix (a server that answered before is retried)
          if (!this.#answered && /^(connection refused|host not found)/.test(failure)) {
            fatal = true;
          }
        }
      }
      const status = response?.status ?? 0;
      recordRequest(context.resource, status, performance.now() - sentAt, shown, response?.bytes);
      let wait = retry.backoff_seconds * 1000 * 2 ** (attempt - 1) * (0.5 + Math.random());
      let why = "backoff";
      if (status === 429) {
        const after = retryAfterMs(response!.headers.get("retry-after"));
        if (after !== undefined) {
          wait = after;
          why = "Retry-After";
        }
        // the pause starts before the place is given back: no request slips in between
        release(wait);
      } else release();
      const accepted = status < 400 || (context.accept?.has(status) ?? false);
      if (response && accepted && response.body !== NOT_JSON) {
        await this.#checkpoint?.record(url, response);
        return response;
      }
      const retryable = !fatal && (response === undefined || status === 429 || status === 408 ||
        status >= 500 || response.body === NOT_JSON ||
        (context.retryStatuses?.has(status) ?? false));
      const msg = response && response.body !== NOT_JSON ? apiMessage(response.body) : undefined;
      const fail = (detail: string) =>
        new HttpError(context, shown, status, msg && this.redact(msg), this.redact(detail));
      if (!retryable || attempt >= retry.attempts) {
        const notJson = response?.body === NOT_JSON
          ? `the body is not JSON (${response.headers.get("content-type") ?? "no content type"})`
          : undefined;
        throw fail(
          [failure ?? notJson, attempt > 1 ? `after ${attempt} attempts` : ""].filter(Boolean)
            .join(", "),
        );
      }
      if (wait > retry.max_wait_seconds * 1000) {
        throw fail(
          `the server asked to wait ${Math.round(wait / 1000)} s (${why}), longer than ` +
            `retry.max_wait_seconds (${retry.max_wait_seconds} s)`,
        );
      }
      this.stats.retries++;
      bump(this.stats.retriesByResource, context.resource);
      recordRetry(context.resource);
      this.stats.lastRetry = {
        resource: context.resource,
        reason: failure ?? (status === 429 ? "429 too many requests" : `HTTP ${status}`),
        attempt: attempt + 1,
        attempts: retry.attempts,
        at: performance.now() + wait,
      };
      if (status === 429) {
        this.stats.throttled++;
        bump(this.stats.throttledByResource, context.resource);
      }
      await sleep(wait, this.#signal);
    }
  }

  /**
   * One request: follows redirects itself (credentials and secret-bearing headers go
   * only to the base URL's origin), and bounds the whole response, body included, in
   * time and size.
   */
  async #fetch(url: URL, headers: Record<string, string>): Promise<HttpResponse> {
    const { timeout_seconds: timeout, max_response_mb: maxMb } = this.#source.retry;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TimeoutError()), timeout * 1000);
    const onAbort = () => controller.abort(this.#signal!.reason);
    this.#signal?.addEventListener("abort", onAbort, { once: true });
    try {
      let current = new URL(url);
      for (let hop = 0;; hop++) {
        if (current.protocol !== "http:" && current.protocol !== "https:") {
          throw new RequestRefused(
            `refused a redirect to a ${current.protocol} URL: only http: and https: are requested`,
          );
        }
        const { target, sent } = this.#withCredentials(current, headers);
        const r = await fetch(target, {
          headers: sent,
          redirect: "manual",
          signal: controller.signal,
        });
        if (r.status >= 300 && r.status < 400 && r.headers.has("location")) {
          await r.body?.cancel();
          if (hop >= MAX_REDIRECTS) {
            throw new RequestRefused(`more than ${MAX_REDIRECTS} redirects`);
          }
          current = new URL(r.headers.get("location")!, current);
          continue;
        }
        const text = await readText(r, maxMb * 1024 * 1024);
        return {
          status: r.status,
          headers: r.headers,
          body: this.#parse(text, r.status),
          bytes: text.length,
        };
      }
    } catch (e) {
      if (controller.signal.aborted && controller.signal.reason instanceof TimeoutError) {
        throw new TimeoutError();
      }
      throw e;
    } finally {
      clearTimeout(timer);
      this.#signal?.removeEventListener("abort", onAbort);
    }
  }

  /** The URL and headers to send: credentials only to the base origin. */
  #withCredentials(
    url: URL,
    headers: Record<string, string>,
  ): { target: string; sent: Record<string, string> } {
    const target = new URL(url);
    const sent: Record<string, string> = { accept: "application/json" };
    const sameOrigin = url.origin === this.#origin;
    for (const [k, value] of Object.entries(headers)) {
      if (sameOrigin || !this.#redactor.contains(value)) sent[k] = value;
    }
    if (sameOrigin) applyAuth(this.#source.auth, target, sent);
    else {
      for (const [k, value] of [...target.searchParams]) {
        if (this.#redactor.contains(value)) target.searchParams.delete(k);
      }
    }
    return { target: target.toString(), sent };
  }

  #parse(text: string, status: number): unknown {
    if (text.trim() === "") return status < 400 ? NOT_JSON : undefined;
    try {
      return parseJson(text, this.repairs);
    } catch {
      // an error page in HTML or text: its text is the API's message
      return status < 400 ? NOT_JSON : text;
    }
  }
}

/** A body that should have been JSON and was not (retried like a 5xx). */
const NOT_JSON: unique symbol = Symbol("not JSON");

/** A request that must not be made (or followed), and is not retried. */
class RequestRefused extends Error {}

/** The response did not arrive, whole, within `retry.timeout_seconds`. */
class TimeoutError extends Error {
  constructor() {
    super("timed out");
  }
}

/** Reads a body as UTF-8 text, failing past `maxBytes`. */
async function readText(r: Response, maxBytes: number): Promise<string> {
  const declared = Number(r.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await r.body?.cancel();
    throw new RequestRefused(tooLarge(maxBytes));
  }
  if (!r.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = r.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel();
      throw new RequestRefused(tooLarge(maxBytes));
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

function tooLarge(maxBytes: number): string {
  return `the response is larger than retry.max_response_mb (${+(maxBytes / 1024 / 1024).toFixed(
    3,
  )} MB)`;
}

/** Waits `ms`, or rejects when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function describeFetchError(e: unknown, url?: URL): string {
  if (e instanceof TimeoutError) return "timed out";
  const message = e instanceof Error ? e.message : String(e);
  if (/abort|timeout/i.test(message)) return "timed out";
  const where = url ? url.host : "the server";
  // what fetch says, as a user can act on it (the full text in parentheses)
  const all = `${message} ${e instanceof Error && e.cause ? String(e.cause) : ""}`;
  if (/connection refused|ECONNREFUSED/i.test(all)) {
    return `connection refused by ${where}: nothing listens there`;
  }
  if (/dns error|failed to lookup|name or service not known|ENOTFOUND/i.test(all)) {
    return `host not found: ${url?.hostname ?? "the server"} does not resolve`;
  }
  return `connection failed (${message.split("\n")[0]})`;
}
