/**
 * The resource graph: parents (one, several, or the resource itself for recursion),
 * cycles, `for_each` and placeholders, checked before any request.
 *
 * @module
 */
import type { KeyPath } from "./errors.ts";
import { didYouMean } from "./suggest.ts";
import { placeholders } from "./template.ts";
import { parsePredicate, PredicateError, predicatePaths } from "./predicate.ts";

/** The placeholder namespace of a resource's own incremental cursor: `{incremental.start}`. */
export const INCREMENTAL = "incremental";
const INCREMENTAL_FIELDS = ["start"];

/** The placeholder namespace of the current `for_each` element: `{item}` or `{item.id}`. */
export const ITEM = "item";

/** A graph problem at a key path of the spec. */
export interface GraphIssue {
  path: KeyPath;
  message: string;
  /** A character offset within the string value at `path` (an expression's error). */
  offset?: number;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** A `parent:` value as a list: a name, a list of names, or nothing. */
export function parentList(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((p): p is string => typeof p === "string") : [];
}

/**
 * Every ancestor of `name` (through all of its parents), nearest first, without `name`
 * itself: a resource that lists itself as a parent is recursive, not its own ancestor.
 */
export function ancestors(name: string, parentsOf: (n: string) => string[]): string[] {
  const out: string[] = [];
  const queue = parentsOf(name).filter((p) => p !== name);
  while (queue.length > 0) {
    const cur = queue.shift()!;
    if (out.includes(cur) || cur === name) continue;
    out.push(cur);
    queue.push(...parentsOf(cur));
  }
  return out;
}

/**
 * Checks the resources of a (possibly not yet valid) spec document: unknown parents,
 * cycles (a resource may be its own parent: recursion), and placeholders naming a missing
 * resource, a non-ancestor or a field the named resource does not request.
 */
export function checkGraph(doc: unknown): GraphIssue[] {
  if (!isRecord(doc) || !isRecord(doc.resources)) return [];
  const resources = doc.resources;
  const names = Object.keys(resources);
  const declared = (n: string): string[] => {
    const r = resources[n];
    return isRecord(r) ? parentList(r.parent) : [];
  };
  const parentsOf = (n: string): string[] => declared(n).filter((p) => p in resources);
  const defaultKey = isRecord(doc.defaults) ? doc.defaults.primary_key : undefined;
  const issues: GraphIssue[] = [];
  const inCycle = new Set<string>();

  for (const name of names) {
    const r = resources[name];
    if (!isRecord(r)) continue;
    const at = (...path: (string | number)[]): KeyPath => ["resources", name, ...path];
    const parentPath = (i: number) => Array.isArray(r.parent) ? at("parent", i) : at("parent");
    const ps = declared(name);
    let unknownParent = false;
    ps.forEach((p, i) => {
      if (!(p in resources)) {
        unknownParent = true;
        issues.push({
          path: parentPath(i),
          message: `unknown parent resource "${p}"${didYouMean(p, names)}`,
        });
      }
    });
    if (!unknownParent && !inCycle.has(name)) {
      const cycle = findCycle(name, parentsOf);
      if (cycle) {
        cycle.forEach((n) => inCycle.add(n));
        issues.push({
          path: at("parent"),
          message: `parent cycle: ${[...cycle, cycle[0]].join(" → ")} ` +
            `(only a resource that names itself among its parents may recurse)`,
        });
      }
    }
    if ((r.reconcile === true || isRecord(r.reconcile)) && !isRecord(r.incremental)) {
      issues.push({
        path: at("reconcile"),
        message:
          "reconcile lists keys to notice deletions of an incremental resource; add incremental:",
      });
    }
    if (isRecord(r.reconcile) && Array.isArray(r.reconcile.watch)) {
      const fields = Array.isArray(r.fields) ? r.fields : undefined;
      r.reconcile.watch.forEach((f, i) => {
        if (typeof f !== "string" || fields === undefined) return;
        const stored = fields.some((x) =>
          x === f || (typeof x === "string" && f.startsWith(`${x}.`))
        );
        if (!stored) {
          issues.push({
            path: at("reconcile", "watch", i),
            message: `"${f}" is not among the fields: no stored value to compare it with` +
              didYouMean(f, fields.filter((x): x is string => typeof x === "string")),
          });
        }
      });
    }
    if (isRecord(r.reconcile) && Array.isArray(r.reconcile.moves_cursor)) {
      const quiet = r.reconcile.moves_cursor;
      if (r.reconcile.listing !== "records") {
        issues.push({
          path: at("reconcile", "moves_cursor"),
          message: "moves_cursor says what a listing of whole records need not list again " +
            "below records that did not change: add listing: records",
        });
      }
      const children = names.filter((n) => n !== name && declared(n).includes(name));
      quiet.forEach((c, i) => {
        if (typeof c === "string" && !children.includes(c)) {
          issues.push({
            path: at("reconcile", "moves_cursor", i),
            message: `"${c}" is not a child resource of ${name}` +
              (children.length > 0 ? ` (its children: ${children.join(", ")})` : ""),
          });
        }
      });
    }
    if (isRecord(r.changes) && !(r.reconcile === true || isRecord(r.reconcile))) {
      issues.push({
        path: at("changes"),
        message: "a change feed names records to list again among the keys a key listing " +
          "finds: add reconcile: true (and incremental:)",
      });
    }
    if (r.write_disposition === "scd2" && r.primary_key === undefined && defaultKey === undefined) {
      issues.push({
        path: at("write_disposition"),
        message: "scd2 keeps versions per record: set primary_key",
      });
    }
    // an unknown parent is reported once; its placeholders cannot be checked
    if (unknownParent) continue;
    issues.push(...checkWhen(r.when, ps, at, (n) => resources[n], defaultKey));
    issues.push(...unknownParentKeys(r.refresh_every, ps, (p) => at("refresh_every", p)));
    issues.push(...unknownParentKeys(r.parent_params, ps, (p) => at("parent_params", p)));
    issues.push(...checkRefreshOn(r, ps, at, resources));
    issues.push(...checkKeep(r, ps, at, defaultKey));
    issues.push(...checkVerify(r, at, defaultKey));
    // for_each per parent: a map of parent name to a list
    const perParentItems = isRecord(r.for_each);
    if (perParentItems) {
      issues.push(...unknownParentKeys(r.for_each, ps, (p) => at("for_each", p)));
    }
    const hasItemsUnder = (parents: string[]) =>
      perParentItems
        ? parents.length > 0 && parents.every((p) => Object.hasOwn(r.for_each as object, p))
        : r.for_each !== undefined;
    const feedParents = isRecord(r.changes) ? parentList(r.changes.parent) : [];
    if (isRecord(r.changes)) {
      const feedParentPath = (i: number) =>
        Array.isArray((r.changes as Record<string, unknown>).parent)
          ? at("changes", "parent", i)
          : at("changes", "parent");
      feedParents.forEach((p, i) => {
        if (!ps.includes(p)) {
          issues.push({
            path: feedParentPath(i),
            message: `"${p}" is not a parent of this resource${didYouMean(p, ps)}`,
          });
        }
      });
    }
    const direct = ps.filter((p) => p !== name);
    const recursive = ps.includes(name);
    const all = recursive ? [...direct, name] : direct;
    /** Template strings, each with the parents its chains come from. */
    const templates: [KeyPath, string, string[]][] = [];
    if (typeof r.path === "string") templates.push([at("path"), r.path, all]);
    const paramsOf = (map: unknown, path: (string | number)[], parents: string[]) => {
      if (!isRecord(map)) return;
      for (const [k, value] of Object.entries(map)) {
        if (typeof value === "string") templates.push([at(...path, k), value, parents]);
        if (Array.isArray(value)) {
          value.forEach((x, i) => {
            if (typeof x === "string") templates.push([at(...path, k, i), x, parents]);
          });
        }
      }
    };
    // a parameter every parent's params set is checked under those parents only
    const overridden = (k: string) =>
      all.filter((p) =>
        !(isRecord(r.parent_params) && isRecord(r.parent_params[p]) && k in r.parent_params[p])
      );
    if (isRecord(r.params)) {
      for (const [k, value] of Object.entries(r.params)) {
        paramsOf({ [k]: value }, ["params"], overridden(k));
      }
    }
    paramsOf(r.headers, ["headers"], all);
    if (isRecord(r.parent_params)) {
      for (const [p, map] of Object.entries(r.parent_params)) {
        if (ps.includes(p)) paramsOf(map, ["parent_params", p], [p]);
      }
    }
    if (isRecord(r.changes)) {
      const feed = r.changes;
      const under = feedParents.length > 0 ? feedParents.filter((p) => ps.includes(p)) : all;
      if (typeof feed.path === "string") templates.push([at("changes", "path"), feed.path, under]);
      paramsOf(feed.params, ["changes", "params"], under);
    }
    if (typeof r.for_each === "string" && r.for_each.startsWith("{")) {
      templates.push([at("for_each"), r.for_each, all]);
    }
    if (perParentItems) {
      for (const [p, each] of Object.entries(r.for_each as Record<string, unknown>)) {
        if (typeof each === "string" && each.startsWith("{") && ps.includes(p)) {
          templates.push([at("for_each", p), each, [p]]);
        }
      }
    }
    for (const [path, template, parents] of templates) {
      const forEach = path.includes("for_each");
      for (const p of placeholders(template)) {
        if (parents.length === 0 && all.length > 0) continue; // every parent overrides it
        const problem = checkPlaceholder(p, {
          name,
          resource: r,
          parents: parents,
          ancestorsOf: (n) => ancestors(n, parentsOf),
          lookup: (n) => resources[n],
          hasItems: !forEach && hasItemsUnder(parents),
          defaultKey,
          names,
        });
        if (problem) issues.push({ path, message: problem });
      }
    }
  }
  issues.push(...viewNameClashes(doc.views, resources));
  return issues;
}

/** A view named like a resource's table (or one of its child tables) would clash with it. */
function viewNameClashes(views: unknown, resources: Record<string, unknown>): GraphIssue[] {
  if (!isRecord(views)) return [];
  const tables = Object.entries(resources).map(([n, r]) =>
    isRecord(r) && typeof r.table === "string" ? r.table : n
  );
  return Object.keys(views).flatMap((view) => {
    const table = tables.find((t) => view === t || view.startsWith(`${t}__`));
    return table === undefined ? [] : [{
      path: ["views", view],
      message: `view "${view}" has the name of ${
        view === table ? "a table" : `a child table of ${table}`
      }; name it otherwise (e.g. ${view.replace(/__/g, "_")}_view)`,
    }];
  });
}

interface PlaceholderContext {
  name: string;
  resource: Record<string, unknown>;
  /** The parents every request chain of this resource may come from. */
  parents: string[];
  ancestorsOf: (n: string) => string[];
  lookup: (n: string) => unknown;
  hasItems: boolean;
  defaultKey: unknown;
  names: string[];
}

function checkPlaceholder(
  p: { text: string; resource: string; field: string },
  c: PlaceholderContext,
): string | undefined {
  if (p.resource === INCREMENTAL) {
    if (!isRecord(c.resource.incremental)) {
      return `placeholder ${p.text} needs an incremental: section on ${c.name}`;
    }
    if (!INCREMENTAL_FIELDS.includes(p.field)) {
      return `placeholder ${p.text}: expected {incremental.start}${
        didYouMean(p.field, INCREMENTAL_FIELDS)
      }`;
    }
    return undefined;
  }
  if (p.resource === ITEM) {
    return c.hasItems ? undefined : `placeholder ${p.text} needs for_each: on ${c.name}`;
  }
  if (p.resource === "parent") {
    if (c.parents.length === 0) {
      return `placeholder ${p.text} needs a parent, but ${c.name} has none`;
    }
    for (const parent of c.parents) {
      const missing = missingField(c.lookup(parent), p.field, c.defaultKey);
      if (missing) {
        return `placeholder ${p.text}: ${parent} does not request field "${p.field}"${
          didYouMean(p.field, missing)
        }`;
      }
    }
    return undefined;
  }
  if (!c.names.includes(p.resource)) {
    return `placeholder ${p.text} names unknown resource "${p.resource}"${
      didYouMean(p.resource, c.names)
    }`;
  }
  // the named resource must be reachable from every parent a chain can come from
  for (const parent of c.parents) {
    if (parent !== p.resource && !c.ancestorsOf(parent).includes(p.resource)) {
      const all = [...new Set(c.parents.flatMap((x) => [x, ...c.ancestorsOf(x)]))];
      return `placeholder ${p.text} names ${p.resource}, which is not an ancestor of ${c.name}` +
        (c.parents.length > 1 ? ` through its parent ${parent}` : "") +
        (all.length ? ` (its parents: ${all.join(" → ")})` : "");
    }
  }
  if (c.parents.length === 0) {
    return `placeholder ${p.text} names ${p.resource}, which is not an ancestor of ${c.name}`;
  }
  const missing = missingField(c.lookup(p.resource), p.field, c.defaultKey);
  return missing
    ? `placeholder ${p.text}: ${p.resource} does not request field "${p.field}"${
      didYouMean(p.field, missing)
    }`
    : undefined;
}

/** A cycle through `start` made of other resources (self-reference is recursion, not a cycle). */
function findCycle(start: string, parentsOf: (n: string) => string[]): string[] | null {
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    for (const p of parentsOf(n)) {
      if (p === n) continue;
      if (p === start) return [...path, n];
      if (path.includes(p) || p === n) continue;
      path.push(n);
      const found = visit(p);
      path.pop();
      if (found) return found;
    }
    return null;
  };
  return visit(start);
}

/** The resource's declared fields when `field` is not among them, else `null`. */
function missingField(resource: unknown, field: string, defaultKey: unknown): string[] | null {
  if (!isRecord(resource) || !Array.isArray(resource.fields)) return null;
  const fields = resource.fields.filter((f): f is string => typeof f === "string");
  const ok = [...fields, ...keyFields(resource, defaultKey)].some((f) =>
    f === field || field.startsWith(`${f}.`) || f.startsWith(`${field}.`)
  );
  return ok ? null : fields;
}

/** The keys of a per-parent map (`when:`, `refresh_every:`) that name no parent. */
function unknownParentKeys(
  map: unknown,
  parents: string[],
  at: (parent: string) => KeyPath,
): GraphIssue[] {
  if (!isRecord(map)) return [];
  return Object.keys(map).filter((p) => !parents.includes(p)).map((p) => ({
    path: at(p),
    message: `"${p}" is not a parent of this resource${didYouMean(p, parents)}`,
  }));
}

/** The primary key fields of a resource (its own or the defaults'). */
function keyFields(r: Record<string, unknown>, defaultKey: unknown): string[] {
  const pk = r.primary_key ?? defaultKey;
  return typeof pk === "string"
    ? [pk]
    : Array.isArray(pk)
    ? pk.filter((k) => typeof k === "string")
    : [];
}

/** `keep:` parses, names only parents, and reads only fields the resource itself requests. */
function checkKeep(
  r: Record<string, unknown>,
  parents: string[],
  at: (...path: (string | number)[]) => KeyPath,
  defaultKey: unknown,
): GraphIssue[] {
  if (r.keep === undefined) return [];
  const entries: [KeyPath, string][] = [];
  if (typeof r.keep === "string") entries.push([at("keep"), r.keep]);
  else if (isRecord(r.keep)) {
    const unknown = unknownParentKeys(r.keep, parents, (p) => at("keep", p));
    if (unknown.length > 0) return unknown;
    for (const [p, text] of Object.entries(r.keep)) {
      if (typeof text === "string") entries.push([at("keep", p), text]);
    }
  }
  const issues: GraphIssue[] = [];
  for (const [path, text] of entries) {
    try {
      for (const field of predicatePaths(parsePredicate(text))) {
        const missing = missingField(r, field, defaultKey);
        if (missing) {
          issues.push({
            path,
            offset: text.indexOf(field),
            message: `keep: this resource does not request field "${field}"${
              didYouMean(field, missing)
            } (without it no record would be kept)`,
          });
        }
      }
    } catch (e) {
      if (!(e instanceof PredicateError)) throw e;
      issues.push({ path, offset: e.offset, message: `keep: ${e.message}` });
    }
  }
  return issues;
}

/**
 * `refresh_on` needs `refresh_every` for the same parents (else the listing runs every
 * time anyway), names known parents, and only fields those parents request.
 */
function checkRefreshOn(
  r: Record<string, unknown>,
  ps: string[],
  at: (...path: (string | number)[]) => KeyPath,
  resources: Record<string, unknown>,
): GraphIssue[] {
  const on = r.refresh_on;
  if (on === undefined) return [];
  const issues: GraphIssue[] = [];
  if (!Array.isArray(on) && isRecord(on)) {
    issues.push(...unknownParentKeys(on, ps, (p) => at("refresh_on", p)));
  }
  const byParent: [string, unknown, (i: number) => KeyPath][] = Array.isArray(on)
    ? ps.map((p) => [p, on, (i: number) => at("refresh_on", i)])
    : isRecord(on)
    ? Object.entries(on).map(([p, f]) => [p, f, (i: number) => at("refresh_on", p, i)])
    : [];
  const every = r.refresh_every;
  for (const [p, fields, path] of byParent) {
    if (!ps.includes(p) || !Array.isArray(fields)) continue;
    const timed = typeof every === "string" || (isRecord(every) && p in every);
    if (!timed) {
      issues.push({
        path: Array.isArray(on) ? at("refresh_on") : at("refresh_on", p),
        message: `refresh_on makes a listing due before its refresh_every; without a ` +
          `refresh_every for ${p} it is listed at every run: add refresh_every`,
      });
    }
    const parent = resources[p];
    const own = isRecord(parent) && Array.isArray(parent.fields)
      ? parent.fields.filter((x): x is string => typeof x === "string")
      : undefined;
    if (own === undefined) continue;
    fields.forEach((f, i) => {
      if (typeof f !== "string") return;
      const root = f.split(".")[0];
      if (!own.some((x) => x === f || x.split(".")[0] === root)) {
        issues.push({
          path: path(i),
          message: `"${f}" is not among the fields of ${p}: its records would not carry it` +
            didYouMean(f, own),
        });
      }
    });
  }
  return issues;
}

/** `reconcile.verify` names only the resource's own key fields, as `{record.<field>}`. */
function checkVerify(
  r: Record<string, unknown>,
  at: (...path: (string | number)[]) => KeyPath,
  defaultKey: unknown,
): GraphIssue[] {
  if (!isRecord(r.reconcile) || typeof r.reconcile.verify !== "string") return [];
  const path = at("reconcile", "verify");
  const keys = keyFields(r, defaultKey);
  if (keys.length === 0) {
    return [{ path, message: "verify asks for a record by its key: set primary_key" }];
  }
  const found = placeholders(r.reconcile.verify);
  if (found.length === 0) {
    return [{
      path,
      message: `expected a path that names the record's key, such as /items/{record.${keys[0]}}`,
    }];
  }
  return found.filter((p) => p.resource !== "record" || !keys.includes(p.field)).map((p) => ({
    path,
    message: `placeholder ${p.text}: verify names the record's own key fields, as ${
      keys.map((k) => `{record.${k}}`).join(", ")
    }`,
  }));
}

/** `when:` parses, names only parents, and reads only fields each parent requests. */
function checkWhen(
  when: unknown,
  parents: string[],
  at: (...path: (string | number)[]) => KeyPath,
  lookup: (n: string) => unknown,
  defaultKey: unknown,
): GraphIssue[] {
  if (when === undefined) return [];
  if (parents.length === 0) {
    return [{
      path: at("when"),
      message: "when: decides per parent record; this resource has no parent",
    }];
  }
  const entries: [KeyPath, string, string[]][] = [];
  if (typeof when === "string") entries.push([at("when"), when, parents]);
  else if (isRecord(when)) {
    const unknown = unknownParentKeys(when, parents, (p) => at("when", p));
    if (unknown.length > 0) return unknown;
    for (const [parent, text] of Object.entries(when)) {
      if (typeof text === "string") entries.push([at("when", parent), text, [parent]]);
    }
  }
  const issues: GraphIssue[] = [];
  for (const [path, text, of] of entries) {
    try {
      const predicate = parsePredicate(text);
      for (const field of predicatePaths(predicate)) {
        for (const parent of of) {
          const missing = missingField(lookup(parent), field, defaultKey);
          if (missing) {
            issues.push({
              path,
              offset: text.indexOf(field),
              message: `when: ${parent} does not request field "${field}"${
                didYouMean(field, missing)
              } (without it every request would be made)`,
            });
          }
        }
      }
    } catch (e) {
      if (!(e instanceof PredicateError)) throw e;
      issues.push({ path, offset: e.offset, message: `when: ${e.message}` });
    }
  }
  return issues;
}
