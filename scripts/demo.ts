/**
 * `deno task demo`: starts the fake Asana, loads pipelines/asana.yaml from it into
 * `.data/demo`, and prints the summary. No token, no network.
 *
 * @module
 */
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { loadSpec } from "../src/spec/load.ts";
import { runPipeline } from "../src/pipeline.ts";
import { formatDataset, formatRunSummary } from "../src/cli/format.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { describeDataset } from "../src/show.ts";

const USAGE = `usage: deno task demo [DB_DIR]

Starts a fake Asana on 127.0.0.1, loads pipelines/asana.yaml from it into DB_DIR
(default .data/demo), prints the summary and the tables. No token, no network.`;
const options = Deno.args.filter((a) => a.startsWith("-"));
if (options.some((a) => a === "--help" || a === "-h")) {
  console.log(USAGE);
  Deno.exit(0);
}
if (options.length > 0 || Deno.args.length > 1) {
  console.error(
    `${
      options.length > 0 ? `unknown option ${options[0]}` : "one database folder at most"
    }\n${USAGE}`,
  );
  Deno.exit(2);
}
const dbDir = Deno.args[0] ?? ".data/demo";
const fake = await startFakeAsana();
try {
  Deno.env.set("ASANA_BASE_URL", fake.baseUrl);
  Deno.env.set("ASANA_ACCESS_TOKEN", fake.token);
  const specFile = new URL("../pipelines/asana.yaml", import.meta.url).pathname;
  const { spec } = await loadSpec(specFile);
  console.log(`fake Asana at ${fake.baseUrl}; loading into ${dbDir}\n`);
  const result = await runPipeline(spec, { dbDir });
  console.log(formatRunSummary(result) + "\n");
  const dest = await PgliteDestination.open(dbDir);
  try {
    console.log(formatDataset(await describeDataset(dest, spec.dataset)));
  } finally {
    await dest.close();
  }
  console.log(`\nquery it: deno task show --db ${dbDir}`);
} finally {
  await fake.close();
}
