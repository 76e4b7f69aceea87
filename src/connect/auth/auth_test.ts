/** Each auth type signs a request as the API expects, and names the values to redact. */
import assert from "node:assert/strict";
import * as v from "valibot";
import { applyAuth, AUTH_TYPES, AuthSchema, credentialsOf } from "./mod.ts";

const sign = (settings: unknown) => {
  const auth = v.parse(AuthSchema, settings);
  const url = new URL("https://api.test/items");
  const headers: Record<string, string> = {};
  applyAuth(auth, url, headers);
  return { url: url.search, headers, secrets: credentialsOf(auth) };
};

Deno.test("bearer, api_key (header and query), basic and none sign requests", () => {
  assert.deepEqual(sign({ type: "bearer", token: "t" }), {
    url: "",
    headers: { authorization: "Bearer t" },
    secrets: ["t"],
  });
  assert.deepEqual(sign({ type: "api_key", name: "X-Key", api_key: "k" }), {
    url: "",
    headers: { "X-Key": "k" },
    secrets: ["k"],
  });
  assert.deepEqual(sign({ type: "api_key", name: "key", api_key: "k", location: "query" }), {
    url: "?key=k",
    headers: {},
    secrets: ["k"],
  });
  assert.deepEqual(sign({ type: "basic", username: "u", password: "p" }), {
    url: "",
    headers: { authorization: `Basic ${btoa("u:p")}` },
    secrets: ["p", btoa("u:p")],
  });
  assert.deepEqual(sign({ type: "none" }), { url: "", headers: {}, secrets: [] });
});

Deno.test("the spec's auth schema is the table's", () => {
  assert.deepEqual(AUTH_TYPES.map((a) => a.type), ["bearer", "api_key", "basic", "none"]);
  const bad = v.safeParse(AuthSchema, { type: "oauth" });
  assert.equal(bad.success, false);
  assert.match(bad.issues![0].message, /expected auth type bearer, api_key, basic or none/);
});
