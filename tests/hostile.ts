/**
 * A hostile HTTP server on 127.0.0.1 for the trust tests: every request is logged with
 * its headers, and a handler may answer anything (bad bodies, endless cursors,
 * redirects, slow bodies, huge Retry-After).
 *
 * @module
 */
import { parseSpec } from "../src/spec/load.ts";
import type { Spec } from "../src/spec/schema.ts";

/** One request the server saw. */
export interface LoggedRequest {
  url: URL;
  headers: Headers;
}

/** A running hostile server. */
export interface HostileServer {
  url: string;
  requests: LoggedRequest[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a server whose `handler` answers every request. */
export function serveHostile(
  handler: (url: URL, req: Request) => Response | Promise<Response>,
): HostileServer {
  const requests: LoggedRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    requests.push({ url, headers: req.headers });
    return handler(url, req);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** A response whose raw body text is given as is (for bodies JSON.stringify cannot write). */
export function rawJson(text: string, status = 200): Response {
  return new Response(text, { status, headers: { "content-type": "application/json" } });
}

/** Parses a spec written inline, with `${VAR}`s resolved from the environment given. */
export function specOf(text: string, configDir = "/nonexistent"): Spec {
  return parseSpec(text, "spec.yaml", { configDir }).spec;
}

/** Quick retries, so that failing requests fail fast in tests. */
export const FAST_RETRY = "  retry: { attempts: 2, backoff_seconds: 0.01, timeout_seconds: 5 }\n";
