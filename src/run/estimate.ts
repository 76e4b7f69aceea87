/**
 * What a run will ask of the API: request chains and requests per resource, from
 * the last load's figures when there are any.
 *
 * @module
 */
import type { ResourceFigures } from "../load/destination.ts";
import type { Plan } from "../plan/plan.ts";

/** One resource's share of a planned run. */
export interface ResourceEstimate {
  resource: string;
  /** The parents, joined by " + " (a union), or undefined for a root resource. */
  parent: string | undefined;
  /** Request chains: one per parent record (1 for a root resource); undefined when unknown. */
  chains: number | undefined;
  /** Requests per chain (pages, plus a key listing when reconciled). */
  requestsPerChain: number;
  /** chains × requestsPerChain, when chains are known. */
  requests: number | undefined;
  /** Records the resource is expected to return. */
  rows: number | undefined;
  /** Whether the figures come from the last load or are assumptions. */
  basis: "last load" | "assumed";
}

/** A whole planned run. */
export interface RunEstimate {
  resources: ResourceEstimate[];
  /** Total requests, when every resource's chains are known. */
  requests: number | undefined;
  /** Seconds at the configured requests-per-minute limit. */
  seconds: number | undefined;
}

/** Estimates a run from the plan and the last load's per-resource figures. */
export function estimateRun(
  plan: Plan,
  last: Record<string, ResourceFigures> | undefined,
  requestsPerMinute: number | undefined,
): RunEstimate {
  const rows = new Map<string, number | undefined>();
  const resources: ResourceEstimate[] = [];
  for (const name of plan.order) {
    const r = plan.resources.get(name)!;
    const seen = last?.[name];
    const items = r.forEach && "values" in r.forEach ? r.forEach.values.length : 1;
    const fromParents = r.parents.length === 0
      ? items
      : r.parents.some((p) => p === name || rows.get(p) === undefined || r.forEach !== undefined)
      ? undefined
      : r.parents.reduce((n, p) => n + rows.get(p)! * items, 0);
    // the last load knows best (recursion, for_each lists in records, incremental parents)
    const chains = seen ? seen.chains : fromParents;
    const perChain = seen && seen.chains > 0 ? seen.requests / seen.chains : (r.reconcile ? 2 : 1);
    const expectedRows = seen?.rows;
    rows.set(name, expectedRows);
    resources.push({
      resource: name,
      parent: r.parents.length ? r.parents.join(" + ") : undefined,
      chains,
      requestsPerChain: perChain,
      requests: chains === undefined ? undefined : Math.ceil(chains * perChain),
      rows: expectedRows,
      basis: seen ? "last load" : "assumed",
    });
  }
  const known = resources.every((r) => r.requests !== undefined);
  const requests = known ? resources.reduce((n, r) => n + r.requests!, 0) : undefined;
  return {
    resources,
    requests,
    seconds: requests !== undefined && requestsPerMinute
      ? requests / (requestsPerMinute / 60)
      : undefined,
  };
}
