/**
 * `basic`: HTTP basic auth (`Authorization: Basic base64(user:password)`).
 *
 * @module
 */
import * as v from "valibot";
import type { AuthType } from "./types.ts";

const schema = v.strictObject({
  type: v.literal("basic"),
  username: v.string(),
  password: v.string(),
});

/** HTTP basic auth. */
export const basicAuth: AuthType<typeof schema> = {
  type: "basic",
  schema,
  credentials: (a) => [a.password, btoa(`${a.username}:${a.password}`)],
  apply(a, _url, headers) {
    headers.authorization = `Basic ${btoa(`${a.username}:${a.password}`)}`;
  },
};
