/**
 * `bearer`: `Authorization: Bearer <token>`.
 *
 * @module
 */
import * as v from "valibot";
import type { AuthType } from "./types.ts";

const schema = v.strictObject({ type: v.literal("bearer"), token: v.string() });

/** Bearer token auth. */
export const bearerAuth: AuthType<typeof schema> = {
  type: "bearer",
  schema,
  credentials: (a) => [a.token],
  apply(a, _url, headers) {
    headers.authorization = `Bearer ${a.token}`;
  },
};
