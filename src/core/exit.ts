/**
 * The exit codes of the command line, a contract for schedulers and orchestrators: 0 the
 * command did what it was asked; 2 bad usage or configuration (fix the spec or the command
 * line; retrying will not help); 1 a runtime failure that retrying will not fix either (the
 * API refused the token, a 4xx answer, a record without its key); 75 a temporary failure
 * worth retrying later (no answer or a lost connection, a timeout, 5xx or 429 answers left
 * after every retry, the destination unreachable or shutting down, the dataset held by
 * another run), as sysexits' `EX_TEMPFAIL`; 130 and 143 a run stopped by SIGINT or SIGTERM
 * (nothing committed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT, isTransient } from "./exit.ts";
 * const lost = Object.assign(new Error("connection reset"), { status: 0 });
 * assert.equal(isTransient(lost), true);
 * assert.equal(isTransient(Object.assign(new Error("no"), { status: 401 })), false);
 * assert.equal(EXIT.tempfail, 75);
 * ```
 *
 * @module
 */

/** Every exit code the command line returns, by meaning. */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** A runtime failure that retrying will not fix. */
  failed: 1,
  /** Bad usage, spec or configuration. */
  usage: 2,
  /** A temporary failure: retry later (sysexits' EX_TEMPFAIL). */
  tempfail: 75,
  /** Stopped by SIGINT (Ctrl-C). */
  sigint: 130,
  /** Stopped by SIGTERM. */
  sigterm: 143,
} as const;

/** HTTP statuses that say "later": timeout, too many requests, the server's trouble. */
function transientStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * Postgres conditions worth retrying: connection exceptions (SQLSTATE class 08), a
 * server shutting down or starting (57P01–57P03), too many connections (53300), a
 * serialization failure or deadlock (40001, 40P01).
 */
function transientSqlState(code: string): boolean {
  return code.startsWith("08") || /^57P0[123]$/.test(code) || code === "53300" ||
    code === "40001" || code === "40P01";
}

/** Network error codes of a lost or refused connection (Node's and postgres.js's). */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/**
 * Is this failure (or the failure that caused it) temporary, worth retrying later? An
 * error that carries an HTTP `status` (0: no answer) is judged by it; one that carries a
 * Postgres SQLSTATE or a network error `code` by that; one marked `transient: true` is.
 */
export function isTransient(e: unknown): boolean {
  for (let at = e, depth = 0; at instanceof Error && depth < 8; depth++) {
    const x = at as Error & { status?: unknown; code?: unknown; transient?: unknown };
    if (x.transient === true) return true;
    if (typeof x.status === "number") return transientStatus(x.status);
    if (typeof x.code === "string") {
      // a TLS handshake refused (sslmode=require against a server without TLS) is a setting
      if (NETWORK_CODES.has(x.code)) return !/\b(tls|ssl|certificate)\b/i.test(x.message);
      if (/^[0-9A-Z]{5}$/.test(x.code)) return transientSqlState(x.code);
    }
    if (x instanceof Deno.errors.ConnectionRefused || x instanceof Deno.errors.ConnectionReset) {
      return true;
    }
    at = x.cause;
  }
  return false;
}
