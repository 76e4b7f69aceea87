/**
 * The resource graph: parents, cycles and placeholders, checked before any request.
 *
 * @module
 */
import type { KeyPath } from "../spec/errors.ts";
import { didYouMean } from "../spec/suggest.ts";
import { placeholders } from "./template.ts";

/** The placeholder namespace of a resource's own incremental cursor: `{incremental.start}`. */
export const INCREMENTAL = "incremental";
const INCREMENTAL_FIELDS = ["start"];

/** A graph problem at a key path of the spec. */
export interface GraphIssue {
  path: KeyPath;
  message: string;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** The chain of ancestors of `name`, nearest first; stops at a cycle or an unknown parent. */
export function ancestors(name: string, parentOf: (n: string) => string | undefined): string[] {
  const out: string[] = [];
  let cur = parentOf(name);
  while (cur !== undefined && !out.includes(cur) && cur !== name) {
    out.push(cur);
    cur = parentOf(cur);
  }
  return out;
}

/**
 * Checks the resources of a (possibly not yet valid) spec document: unknown parents,
 * cycles, and placeholders naming a missing resource, a non-ancestor or a field the
 * named resource does not request.
 */
export function checkGraph(doc: unknown): GraphIssue[] {
  if (!isRecord(doc) || !isRecord(doc.resources)) return [];
  const resources = doc.resources;
  const names = Object.keys(resources);
  const parentOf = (n: string): string | undefined => {
    const r = resources[n];
    return isRecord(r) && typeof r.parent === "string" && r.parent in resources
      ? r.parent
      : undefined;
  };
  const defaultKey = isRecord(doc.defaults) ? doc.defaults.primary_key : undefined;
  const issues: GraphIssue[] = [];
  const inCycle = new Set<string>();

  for (const name of names) {
    const r = resources[name];
    if (!isRecord(r)) continue;
    const at = (...path: (string | number)[]): KeyPath => ["resources", name, ...path];
    if (typeof r.parent === "string") {
      if (!(r.parent in resources)) {
        issues.push({
          path: at("parent"),
          message: `unknown parent resource "${r.parent}"${didYouMean(r.parent, names)}`,
        });
      } else if (!inCycle.has(name)) {
        const cycle = findCycle(name, parentOf);
        if (cycle) {
          cycle.forEach((n) => inCycle.add(n));
          issues.push({
            path: at("parent"),
            message: `parent cycle: ${[...cycle, cycle[0]].join(" → ")}`,
          });
        }
      }
    }
    if (r.reconcile === true && !isRecord(r.incremental)) {
      issues.push({
        path: at("reconcile"),
        message:
          "reconcile lists keys to notice deletions of an incremental resource; add incremental:",
      });
    }
    // an unknown parent is reported once; its placeholders cannot be checked
    if (typeof r.parent === "string" && !(r.parent in resources)) continue;
    const chain = ancestors(name, parentOf);
    const templates: [KeyPath, string][] = [];
    if (typeof r.path === "string") templates.push([at("path"), r.path]);
    for (const key of ["params", "headers"] as const) {
      const map = r[key];
      if (!isRecord(map)) continue;
      for (const [k, value] of Object.entries(map)) {
        if (typeof value === "string") templates.push([at(key, k), value]);
      }
    }
    for (const [path, template] of templates) {
      for (const p of placeholders(template)) {
        const target = p.resource === "parent" ? chain[0] : p.resource;
        if (p.resource === INCREMENTAL) {
          if (!isRecord(r.incremental)) {
            issues.push({
              path,
              message: `placeholder ${p.text} needs an incremental: section on ${name}`,
            });
          } else if (!INCREMENTAL_FIELDS.includes(p.field)) {
            issues.push({
              path,
              message: `placeholder ${p.text}: expected {incremental.start}${
                didYouMean(p.field, INCREMENTAL_FIELDS)
              }`,
            });
          }
        } else if (target === undefined) {
          issues.push({
            path,
            message: `placeholder ${p.text} needs a parent, but ${name} has none`,
          });
        } else if (!(target in resources)) {
          issues.push({
            path,
            message: `placeholder ${p.text} names unknown resource "${p.resource}"${
              didYouMean(p.resource, names)
            }`,
          });
        } else if (!chain.includes(target)) {
          issues.push({
            path,
            message: `placeholder ${p.text} names ${target}, which is not an ancestor of ${name}` +
              (chain.length ? ` (its parents: ${chain.join(" → ")})` : ""),
          });
        } else {
          const missing = missingField(resources[target], p.field, defaultKey);
          if (missing) {
            issues.push({
              path,
              message: `placeholder ${p.text}: ${target} does not request field "${p.field}"${
                didYouMean(p.field, missing)
              }`,
            });
          }
        }
      }
    }
  }
  return issues;
}

function findCycle(start: string, parentOf: (n: string) => string | undefined): string[] | null {
  const seen: string[] = [start];
  let cur = parentOf(start);
  while (cur !== undefined) {
    const i = seen.indexOf(cur);
    if (i >= 0) return i === 0 ? seen : null;
    seen.push(cur);
    cur = parentOf(cur);
  }
  return null;
}

/** The resource's declared fields when `field` is not among them, else `null`. */
function missingField(resource: unknown, field: string, defaultKey: unknown): string[] | null {
  if (!isRecord(resource) || !Array.isArray(resource.fields)) return null;
  const fields = resource.fields.filter((f): f is string => typeof f === "string");
  const pk = resource.primary_key ?? defaultKey;
  const keys = typeof pk === "string" ? [pk] : Array.isArray(pk) ? pk : [];
  const ok = [...fields, ...keys].some((f) =>
    f === field || field.startsWith(`${f}.`) || f.startsWith(`${field}.`)
  );
  return ok ? null : fields;
}
