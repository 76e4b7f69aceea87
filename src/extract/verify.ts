/**
 * Verified deletions (`reconcile.verify`): before a run deletes a stored record that no
 * listing returned, it asks the API for that record by its key. Only an answer that
 * says the record is gone (404, 410) lets the commit delete it; a record in the answer
 * (it left every listed parent but still exists: a task in no project any more) keeps
 * its row, and so does a request that fails (no evidence either way).
 *
 * @module
 */
import type { PlannedResource } from "../plan/plan.ts";
import { render } from "../spec/template.ts";
import { type HttpClient, HttpError } from "./http.ts";

/** The statuses that say a record is gone. */
export const GONE_STATUSES: ReadonlySet<number> = new Set([404, 410]);

/** A stored record that no listing of the run returned: its key, and its key fields' values. */
export interface Candidate {
  /** The canonical key (as the tables compare keys). */
  key: string;
  /** The primary key fields' values, in the order of the primary key. */
  values: readonly unknown[];
}

/** What asking for the candidates by key found. */
export interface Verified {
  /** Keys the API answered 404 or 410 for: the commit deletes them. */
  gone: string[];
  /** Candidates the API still returned: kept. */
  kept: number;
  /** Candidates whose request failed otherwise (skipped, refused): kept, no evidence. */
  unanswered: number;
}

/**
 * Asks for each candidate by its key (`reconcile.verify`, `{record.<field>}` placeholders),
 * `concurrency` at a time (the client's own limits apply too).
 */
export async function verifyDeletions(
  client: HttpClient,
  resource: PlannedResource,
  candidates: readonly Candidate[],
  options: { fieldsParam?: string; concurrency: number; signal?: AbortSignal },
): Promise<Verified> {
  const out: Verified = { gone: [], kept: 0, unanswered: 0 };
  const template = resource.reconcileVerify!;
  const headers = Object.fromEntries(
    Object.entries(resource.headers).filter(([, value]) => !value.includes("{")),
  );
  let next = 0;
  const worker = async () => {
    while (next < candidates.length) {
      options.signal?.throwIfAborted();
      const c = candidates[next++];
      const url = client.resolve(
        render(template, (_ns, field) => {
          const i = resource.primaryKey.indexOf(field);
          return String(c.values[i]);
        }, encodeURIComponent),
      );
      if (options.fieldsParam && resource.primaryKey.length > 0) {
        url.searchParams.set(options.fieldsParam, resource.primaryKey.join(","));
      }
      try {
        const { status } = await client.get(url, headers, {
          resource: resource.name,
          accept: GONE_STATUSES,
        });
        if (GONE_STATUSES.has(status)) out.gone.push(c.key);
        else out.kept++;
      } catch (e) {
        if (!(e instanceof HttpError)) throw e;
        out.unanswered++;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, candidates.length)) }, worker),
  );
  return out;
}
