/**
 * The dataset an older restpipe wrote (made by scripts/make_upgrade_fixture.ts), and the
 * fake Asana it loaded: restored into a database, it is what a user who upgrades has.
 *
 * @module
 */
import type { Destination } from "../src/load/destination.ts";

/** The fake Asana the fixture's dataset was loaded from (seed and size). */
export const UPGRADE_FAKE = { seed: 17, tasksPerProject: 6 };

/** A fixture: each table's columns (name, Postgres type) and rows (as JSON). */
export interface UpgradeFixture {
  commit: string;
  tables: Record<string, { columns: [string, string][]; rows: unknown[] }>;
}

/** Restores a fixture's tables into `dest` (dataset asana_data), as the older restpipe left them. */
export async function restoreFixture(dest: Destination, fixture: UpgradeFixture): Promise<void> {
  await dest.query(`create schema asana_data`, [], { write: true });
  for (const [name, { columns, rows }] of Object.entries(fixture.tables)) {
    const table = `asana_data."${name}"`;
    const defs = columns.map(([c, t]) => `"${c}" ${t === "ARRAY" ? "text[]" : t}`);
    await dest.query(`create table ${table} (${defs.join(", ")})`, [], { write: true });
    if (rows.length === 0) continue;
    await dest.query(
      `insert into ${table} select * from jsonb_populate_recordset(null::${table}, $1::text::jsonb)`,
      [JSON.stringify(rows)],
      { write: true },
    );
  }
}
