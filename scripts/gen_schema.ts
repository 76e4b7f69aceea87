/**
 * `deno task schema`: writes docs/spec.schema.json from the valibot schemas.
 * A test fails when the committed file differs from what this writes.
 *
 * @module
 */
import { specJsonSchemaText } from "../src/spec/json_schema.ts";

const file = new URL("../docs/spec.schema.json", import.meta.url);
await Deno.writeTextFile(file, specJsonSchemaText());
console.log(`wrote ${file.pathname}`);
