/**
 * The staging buffer: normalises pages of records into rows and writes them to the
 * open run in batches, one insert per table per flush, while extraction goes on.
 *
 * @module
 */
import type { PlannedResource } from "../plan/plan.ts";
import { getPath } from "../core/paths.ts";
import { RestpipeError } from "../core/errors.ts";
import type { Normalizer, Row, TableRows } from "../normalize/normalize.ts";
import type { Destination } from "./destination.ts";

/** A record without its primary key (exit code 1: the API sent it, or the spec asks wrongly). */
export class MissingKeyError extends RestpipeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { exitCode: 1 });
  }
}

/** Rows buffered before a write: bigger batches are cheaper per row in PGlite. */
export const DEFAULT_FLUSH_ROWS = 20_000;

/** Normalises pages and writes their rows in batches (one insert per table per flush). */
export class StagingBuffer {
  readonly #rows: TableRows = new Map();
  #count = 0;
  readonly #dest: Destination;
  readonly #normalizer: Normalizer;
  readonly #limit: number;
  #writing: Promise<void> = Promise.resolve();
  /** Rows handed to batches, and rows the destination has taken: equal after a flush. */
  #taken = 0;
  #staged = 0;

  /** Creates the buffer. */
  constructor(dest: Destination, normalizer: Normalizer, limit: number) {
    this.#dest = dest;
    this.#normalizer = normalizer;
    this.#limit = limit;
  }

  /** Normalises a page (checking primary keys) and flushes when the buffer is full. */
  async add(
    resource: PlannedResource,
    records: Record<string, unknown>[],
    parentKey: string,
  ): Promise<void> {
    if (!resource.load) return;
    if (resource.primaryKey.length > 0 && resource.writeDisposition !== "append") {
      for (const record of records) {
        for (const k of resource.primaryKey) {
          const value = getPath(record, k);
          if (value === undefined || value === null) {
            throw new MissingKeyError(
              `${resource.name}: a record has no primary key field "${k}" (keys: ${
                Object.keys(record).slice(0, 8).join(", ")
              }); add it to fields or change primary_key`,
            );
          }
        }
      }
    }
    const before = this.#countRows();
    this.#normalizer.normalize(resource, records, this.#rows, parentKey);
    this.#count += this.#countRows() - before;
    if (this.#count >= this.#limit) {
      // batches are written in turn, each while the next pages are normalised (a server
      // destination works in parallel with us); a page waits for the batch before it. The
      // chain holds every batch: two pages that fill the buffer at once cannot drop one
      // from what `flush` waits for
      const previous = this.#writing;
      const batch = this.#take();
      this.#writing = previous.then(() => this.#write(batch));
      this.#writing.catch(() => {}); // awaited (and thrown) by the next add or flush
      await previous;
    }
  }

  /** The buffered rows, handed over (the buffer starts empty). */
  #take(): [string, Row[]][] {
    const batches: [string, Row[]][] = [...this.#rows.entries()];
    this.#rows.clear();
    this.#count = 0;
    for (const [, rows] of batches) this.#taken += rows.length;
    return batches;
  }

  async #write(batches: [string, Row[]][]): Promise<void> {
    for (const [table, rows] of batches) {
      await this.#dest.stage(table, rows, this.#normalizer.schema.tables[table]?.resource);
      this.#staged += rows.length;
    }
  }

  #countRows(): number {
    let n = 0;
    for (const rows of this.#rows.values()) n += rows.length;
    return n;
  }

  /**
   * Writes every buffered row (after the batch being written, if any). A row handed to
   * a batch that the destination has not taken by then fails the run: a commit without
   * it would delete what its table held (a `replace` keeps only this load's rows).
   */
  async flush(): Promise<void> {
    await this.#writing;
    await this.#write(this.#take());
    if (this.#staged !== this.#taken) {
      throw new RestpipeError(
        `internal error: ${this.#taken - this.#staged} of ${this.#taken} rows were not ` +
          `staged when the run was about to commit; nothing was committed`,
        { exitCode: 1 },
      );
    }
  }
}
