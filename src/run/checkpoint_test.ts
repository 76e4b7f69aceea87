/** The checkpoint stores, on a real PostgreSQL server (ignored without the test server). */
import assert from "node:assert/strict";
import { PostgresCheckpointStore } from "./checkpoint.ts";
import { freshDatabase, NO_POSTGRES } from "../../tests/pg.ts";

Deno.test({
  name:
    "runs of several datasets that start at once on a new server all create the shared checkpoint schema, none fails",
  ignore: NO_POSTGRES,
  async fn() {
    // Seen in CI: two fleet workers' first runs at the same moment, one failed with
    // `duplicate key value violates unique constraint "pg_type_typname_nsp_index"` (both
    // created the table; `if not exists` does not serialise them). Ten rounds of eight.
    for (let round = 0; round < 10; round++) {
      await using db = await freshDatabase();
      const stores = Array.from(
        { length: 8 },
        (_, i) => new PostgresCheckpointStore(db.url, `dataset_${i}`),
      );
      try {
        const results = await Promise.allSettled(
          stores.map((s, i) => s.start(`key ${i}`, new Date(0))),
        );
        const failed = results.filter((r) => r.status === "rejected");
        assert.deepEqual(failed, [], `round ${round}`);
        for (const [i, s] of stores.entries()) {
          assert.equal((await s.describe())?.key, `key ${i}`);
        }
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    }
  },
});
