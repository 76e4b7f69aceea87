/**
 * The auth table: every auth type, registered once. The spec's `auth:` schema is
 * built from it and the HTTP client signs requests through it. To add an auth type,
 * write its module (schema and behaviour, as `bearer.ts`) and add it here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyAuth, credentialsOf } from "./mod.ts";
 * const url = new URL("https://api.example.com/items");
 * const headers: Record<string, string> = {};
 * applyAuth({ type: "api_key", name: "key", api_key: "s3cret", location: "query" }, url, headers);
 * assert.deepEqual(url.search, "?key=s3cret");
 * assert.deepEqual(credentialsOf({ type: "bearer", token: "t0k" }), ["t0k"]);
 * ```
 *
 * @module
 */
import * as v from "valibot";
import { type Infer, oneOf } from "../../core/schemas.ts";
import { bearerAuth } from "./bearer.ts";
import { apiKeyAuth } from "./api_key.ts";
import { basicAuth } from "./basic.ts";
import { noAuth } from "./none.ts";

export type { AuthType } from "./types.ts";

/** Every auth type, in the order error messages list them. */
export const AUTH_TYPES = [bearerAuth, apiKeyAuth, basicAuth, noAuth] as const;

type Schemas<T extends readonly { schema: unknown }[]> = {
  -readonly [K in keyof T]: T[K]["schema"];
};

/**
 * Auth: a bearer token, an API key in a header or the query, HTTP basic, or none.
 *
 * @ignore
 */
export const AuthSchema = v.variant(
  "type",
  AUTH_TYPES.map((a) => a.schema) as Schemas<typeof AUTH_TYPES>,
  (issue) => `expected auth type ${oneOf(AUTH_TYPES.map((a) => a.type))}, got ${issue.received}`,
);

/** An auth configuration. */
export type Auth = Infer<typeof AuthSchema>;

interface Behaviour {
  credentials(settings: Auth): string[];
  apply(settings: Auth, url: URL, headers: Record<string, string>): void;
}

const BY_TYPE = new Map<string, Behaviour>(
  AUTH_TYPES.map((a) => [a.type, a as unknown as Behaviour]),
);

/** The credential values of an auth setting (to redact). */
export function credentialsOf(auth: Auth): string[] {
  return BY_TYPE.get(auth.type)!.credentials(auth);
}

/** Signs a request to the base URL's origin. */
export function applyAuth(auth: Auth, url: URL, headers: Record<string, string>): void {
  BY_TYPE.get(auth.type)!.apply(auth, url, headers);
}
