/**
 * The spec's JSON Schema, generated from the valibot schemas, for editors
 * (`# yaml-language-server: $schema=...`).
 *
 * @module
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import { SpecSchema } from "./schema.ts";

/** Drops `format` checks: a value may be a `${VAR}` that only becomes a URL at run time. */
function withoutFormats(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutFormats);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (k !== "format") out[k] = withoutFormats(v);
  return out;
}

/** The JSON Schema of a pipeline spec (checks valibot cannot express are left out). */
export function specJsonSchema(): Record<string, unknown> {
  const schema = withoutFormats(toJsonSchema(SpecSchema, { errorMode: "ignore" })) as Record<
    string,
    unknown
  >;
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    ...schema,
    $id: "https://restpipe.dev/spec.schema.json",
    title: "restpipe pipeline spec",
    description: "A YAML pipeline spec for restpipe; see docs/spec.md.",
  };
}

/** The schema as the committed file holds it. */
export function specJsonSchemaText(): string {
  return JSON.stringify(specJsonSchema(), null, 2) + "\n";
}
