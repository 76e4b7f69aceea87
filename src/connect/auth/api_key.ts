/**
 * `api_key`: a key in a named header (default) or query parameter.
 *
 * @module
 */
import * as v from "valibot";
import { picklist } from "../../core/schemas.ts";
import type { AuthType } from "./types.ts";

const schema = v.strictObject({
  type: v.literal("api_key"),
  name: v.string(),
  api_key: v.string(),
  location: v.optional(picklist(["header", "query"]), "header"),
});

/** API key auth. */
export const apiKeyAuth: AuthType<typeof schema> = {
  type: "api_key",
  schema,
  credentials: (a) => [a.api_key],
  apply(a, url, headers) {
    if (a.location === "query") url.searchParams.set(a.name, a.api_key);
    else headers[a.name] = a.api_key;
  },
};
