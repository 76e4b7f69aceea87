import assert from "node:assert/strict";
import { StagingBuffer } from "./staging.ts";
import { PgliteDestination } from "./pglite.ts";
import type { Destination } from "./destination.ts";
import { Normalizer } from "../normalize/normalize.ts";
import { emptySchema } from "../normalize/schema.ts";
import { buildPlan } from "../plan/plan.ts";
import { parseSpec } from "../spec/load.ts";

Deno.test("flush waits for every batch in flight, also when two pages fill the buffer at once (a slow destination)", async () => {
  const { spec } = parseSpec(
    `pipeline: p
dataset: d
source: { base_url: "http://127.0.0.1:1" }
resources:
  items: { path: /items, primary_key: id }
`,
    "s.yaml",
    { configDir: "/x" },
  );
  const items = buildPlan(spec).resources.get("items")!;
  const dest = await PgliteDestination.open();
  try {
    const normalizer = new Normalizer(emptySchema(), "1");
    await dest.begin("d", normalizer.schema, "test");
    let started = 0, done = 0;
    // the real database behind a destination that is slow to take the first batch
    const slow = {
      async stage(...args: Parameters<Destination["stage"]>) {
        const first = started++ === 0;
        if (first) await new Promise((r) => setTimeout(r, 100));
        await dest.stage(...args);
        done++;
      },
    } as unknown as Destination;
    const buffer = new StagingBuffer(slow, normalizer, 1);
    await Promise.all([
      buffer.add(items, [{ id: 1 }], ""),
      buffer.add(items, [{ id: 2 }], ""),
    ]);
    await buffer.flush();
    assert.equal(done, started, "a batch was still being written after flush()");
  } finally {
    await dest.close();
  }
});
