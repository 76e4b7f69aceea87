/**
 * Refresh clocks: a listing with `refresh_every` runs again only when its time has
 * come; the clock of each resource's listings under each parent resource moves when
 * they ran to the end.
 *
 * @module
 */
import type { Plan, PlannedResource } from "../plan/plan.ts";

/** The key of a resource's listings under one parent resource in the state's `refreshed`. */
export function refreshKey(resource: string, parent: string): string {
  return parent === "" ? resource : `${resource} < ${parent}`;
}

/** The refresh clocks of one run. */
export class RefreshClocks {
  readonly #last: Readonly<Record<string, string>>;
  readonly #now: Date;
  readonly #ignore: boolean;

  /** `last`: the stored clocks; `ignore`: every listing is due (a full refresh). */
  constructor(last: Readonly<Record<string, string>>, now: Date, ignore = false) {
    this.#last = last;
    this.#now = now;
    this.#ignore = ignore;
  }

  /** Is this resource's listing under this parent resource (`""`: none) due in this run? */
  isDue(resource: PlannedResource, parent: string): boolean {
    const every = resource.refreshEvery.get(parent);
    if (every === undefined || !resource.load || this.#ignore) return true;
    const last = Date.parse(this.#last[refreshKey(resource.name, parent)] ?? "");
    return Number.isNaN(last) || this.#now.getTime() - last >= every;
  }

  /** The clocks to store: those of the listings that ran to the end (`ran`) move to now. */
  next(plan: Plan, ran: (resource: PlannedResource) => boolean): Record<string, string> {
    const next = { ...this.#last };
    for (const r of plan.resources.values()) {
      if (!r.load) continue;
      for (const parent of r.refreshEvery.keys()) {
        if (ran(r)) next[refreshKey(r.name, parent)] = this.#now.toISOString();
      }
    }
    return next;
  }
}
