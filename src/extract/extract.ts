/**
 * Fan-out: runs every resource's request chains, starting a child's chains as soon
 * as a parent page arrives, and hands each page of records to a sink.
 *
 * @module
 */
import type { Plan, PlannedResource } from "../plan/plan.ts";
import { getPath, render } from "../plan/template.ts";
import { type HttpClient, HttpError } from "./http.ts";
import { paginate } from "./paginate.ts";

/** A record of a resource as the API returned it. */
export type ApiRecord = Record<string, unknown>;

/** The ancestor records of a request chain, nearest first. */
export type Ancestry = readonly { resource: string; record: ApiRecord }[];

/** Per-resource counters for the run summary. */
export interface ResourceStats {
  rows: number;
  pages: number;
  /** Request chains: one per parent record (one for a root resource). */
  chains: number;
  /** Milliseconds from the first request to the last page. */
  startedAt: number;
  finishedAt: number;
  /** Listings started again after an expired page token. */
  restarts: number;
  /** Requests skipped by a status rule, by status. */
  skipped: Map<number, { count: number; example: string }>;
}

/** Receives each page; awaiting it applies backpressure to the extractor. */
export type PageSink = (
  resource: PlannedResource,
  records: ApiRecord[],
  ancestry: Ancestry,
) => Promise<void>;

/** Options for {@linkcode extract}. */
export interface ExtractOptions {
  /** Query parameter receiving `fields` (e.g. Asana's `opt_fields`). */
  fieldsParam?: string;
  /** Chains of one resource waiting or running at once before parents wait (default 256). */
  pendingChains?: number;
}

/** A runtime problem not tied to one HTTP response (a missing placeholder value…). */
export class ExtractError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ExtractError";
  }
}

/** A counting gate: at most `size` holders at once. */
class Gate {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
  }
  async enter(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((r) => this.#waiting.push(r));
  }
  leave(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Runs the plan's requests; resolves with per-resource stats, or rejects with the first failure. */
export async function extract(
  plan: Plan,
  client: HttpClient,
  sink: PageSink,
  options: ExtractOptions = {},
): Promise<Map<string, ResourceStats>> {
  const stats = new Map<string, ResourceStats>();
  const gates = new Map<string, Gate>();
  for (const name of plan.order) {
    stats.set(name, {
      rows: 0,
      pages: 0,
      chains: 0,
      startedAt: 0,
      finishedAt: 0,
      restarts: 0,
      skipped: new Map(),
    });
    gates.set(name, new Gate(options.pendingChains ?? 256));
  }
  const running = new Set<Promise<void>>();
  let failure: unknown;

  const spawn = async (resource: PlannedResource, ancestry: Ancestry) => {
    const gate = gates.get(resource.name)!;
    await gate.enter();
    const task = runChain(resource, ancestry)
      .catch((e) => {
        failure ??= e;
      })
      .finally(() => {
        gate.leave();
        running.delete(task);
      });
    running.add(task);
  };

  const runChain = async (resource: PlannedResource, ancestry: Ancestry) => {
    if (failure !== undefined) return;
    const s = stats.get(resource.name)!;
    s.chains++;
    if (s.startedAt === 0) s.startedAt = performance.now();
    const { url, parentKey } = buildRequest(client, plan, resource, ancestry, options.fieldsParam);
    const children = resource.children.map((c) => plan.resources.get(c)!);
    const retryStatuses = new Set(
      Object.entries(resource.onStatus).filter(([, a]) => a === "retry").map(([c]) => Number(c)),
    );
    const pages = paginate(client, resource.paginator, resource.records, url, resource.headers, {
      resource: resource.name,
      parentKey,
      retryStatuses,
    });
    // after a restart, records already seen in this listing are dropped
    const seen = resource.paginator.type !== "single" && resource.paginator.restart_on
      ? new Set<string>()
      : undefined;
    let afterRestart = false;
    try {
      for await (const page of pages) {
        if (failure !== undefined) return;
        if (page.restarted) {
          afterRestart = true;
          s.restarts++;
        }
        let records = page.records.map((r) => withParentFields(resource, r, ancestry));
        if (seen) {
          records = records.filter((r) => {
            const key = recordKey(resource, r);
            if (seen.has(key)) return !afterRestart;
            seen.add(key);
            return true;
          });
        }
        s.pages++;
        s.rows += records.length;
        await sink(resource, records, ancestry);
        s.finishedAt = performance.now();
        for (const child of children) {
          for (const record of records) {
            if (failure !== undefined) return;
            await spawn(child, [{ resource: resource.name, record }, ...ancestry]);
          }
        }
      }
    } catch (e) {
      if (!(e instanceof HttpError) || resource.onStatus[String(e.status)] !== "skip") throw e;
      const entry = s.skipped.get(e.status) ?? { count: 0, example: e.message };
      entry.count++;
      s.skipped.set(e.status, entry);
    }
  };

  for (const name of plan.order) {
    const r = plan.resources.get(name)!;
    if (r.parent === undefined) await spawn(r, []);
  }
  while (running.size > 0) await Promise.all([...running]);
  if (failure !== undefined) throw failure;
  return stats;
}

function recordKey(resource: PlannedResource, record: ApiRecord): string {
  if (resource.primaryKey.length === 0) return JSON.stringify(record);
  return JSON.stringify(resource.primaryKey.map((k) => getPath(record, k)));
}

function withParentFields(resource: PlannedResource, raw: unknown, ancestry: Ancestry): ApiRecord {
  const record: ApiRecord = typeof raw === "object" && raw !== null && !Array.isArray(raw)
    ? raw as ApiRecord
    : { value: raw };
  const parent = ancestry[0]?.record;
  for (const [column, path] of Object.entries(resource.includeFromParent)) {
    record[column] = parent === undefined ? null : getPath(parent, path) ?? null;
  }
  return record;
}

/** The first request of a chain: path and params filled from the ancestors' records. */
export function buildRequest(
  client: HttpClient,
  plan: Plan,
  resource: PlannedResource,
  ancestry: Ancestry,
  fieldsParam: string | undefined,
): { url: URL; parentKey: string | undefined } {
  const parent = ancestry[0];
  const parentPlan = parent ? plan.resources.get(parent.resource) : undefined;
  const parentKey = parent && parentPlan && parentPlan.primaryKey.length > 0
    ? parentPlan.primaryKey.map((k) => String(getPath(parent.record, k))).join("/")
    : undefined;
  const resolve = (name: string, field: string): string => {
    const source = name === "parent" ? parent : ancestry.find((a) => a.resource === name);
    const value = source ? getPath(source.record, field) : undefined;
    if (value === undefined || value === null || typeof value === "object") {
      const who = parentKey === undefined
        ? resource.name
        : `${resource.name} (parent ${parentKey})`;
      throw new ExtractError(
        `${who}: placeholder {${name}.${field}} has no ${
          value === undefined || value === null ? "value" : "scalar value"
        } in the ${source?.resource ?? name} record`,
      );
    }
    return String(value);
  };
  const url = client.resolve(render(resource.path, resolve, encodeURIComponent));
  for (const [k, value] of Object.entries(resource.params)) {
    url.searchParams.set(k, typeof value === "string" ? render(value, resolve) : String(value));
  }
  if (fieldsParam && resource.fields && resource.fields.length > 0) {
    url.searchParams.set(fieldsParam, resource.fields.join(","));
  }
  return { url, parentKey };
}
