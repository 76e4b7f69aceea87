/**
 * `none`: requests go unsigned.
 *
 * @module
 */
import * as v from "valibot";
import type { AuthType } from "./types.ts";

const schema = v.strictObject({ type: v.literal("none") });

/** No auth. */
export const noAuth: AuthType<typeof schema> = {
  type: "none",
  schema,
  credentials: () => [],
  apply() {},
};
