/**
 * Asana's representations: compact records in listings, full records from single
 * GETs, and `opt_fields` projections with dotted paths, `this.` and `(a|b)` groups.
 *
 * @module
 */
import { type AsanaObject, Ref } from "./data.ts";

/** A parsed `opt_fields`: field → sub-fields (empty: the field itself). */
export type FieldTree = Map<string, FieldTree>;

/** The fields of each type's compact form (listings without opt_fields). */
export const COMPACT_FIELDS: Record<string, string[]> = {
  task: ["gid", "resource_type", "name", "resource_subtype"],
  story: ["gid", "resource_type", "created_at", "created_by", "resource_subtype", "text"],
  custom_field_setting: ["gid", "resource_type"],
  attachment: ["gid", "resource_type", "name", "resource_subtype"],
  goal: ["gid", "resource_type", "name", "owner"],
  status_update: ["gid", "resource_type", "title", "resource_subtype"],
  team_membership: [
    "gid",
    "resource_type",
    "user",
    "team",
    "is_guest",
    "is_limited_access",
    "is_admin",
  ],
  workspace_membership: ["gid", "resource_type", "user", "workspace"],
  project_membership: ["gid", "resource_type", "parent", "member", "access_level"],
  time_tracking_entry: [
    "gid",
    "resource_type",
    "duration_minutes",
    "entered_on",
    "attributable_to",
    "created_by",
  ],
  user_task_list: ["gid", "resource_type", "name", "owner", "workspace"],
  time_period: ["gid", "resource_type", "display_name", "period", "start_on", "end_on"],
  portfolio_membership: ["gid", "resource_type", "portfolio", "user", "access_level"],
  goal_relationship: [
    "gid",
    "resource_type",
    "resource_subtype",
    "supporting_resource",
    "contribution_weight",
  ],
  membership: [
    "gid",
    "resource_type",
    "resource_subtype",
    "member",
    "parent",
    "role",
    "access_level",
  ],
  time_tracking_category: ["gid", "resource_type", "name", "color"],
  project_template: ["gid", "resource_type", "name"],
};

const DEFAULT_COMPACT = ["gid", "resource_type", "name"];

/** Expands `this.` prefixes and `(a|b)` groups into plain dotted paths. */
export function expandPath(path: string): string[] {
  const p = path.trim().replace(/^this\./, "");
  const m = p.match(/^(.*?)\(([^)]*)\)(.*)$/);
  if (!m) return p === "" ? [] : [p];
  return m[2].split("|").flatMap((alt) => expandPath(`${m[1]}${alt}${m[3]}`));
}

/** Parses `opt_fields` (comma-separated dotted paths) into a tree. */
export function parseOptFields(value: string): FieldTree {
  const tree: FieldTree = new Map();
  for (const raw of value.split(",")) {
    for (const path of expandPath(raw)) {
      let node = tree;
      for (const step of path.split(".")) {
        let next = node.get(step);
        if (!next) node.set(step, next = new Map());
        node = next;
      }
    }
  }
  return tree;
}

/** Renders stored objects for responses. */
export class Renderer {
  readonly #objects: Map<string, AsanaObject>;

  /** Creates a renderer over the store's objects. */
  constructor(objects: Map<string, AsanaObject>) {
    this.#objects = objects;
  }

  /** The compact form: `{gid, resource_type, name}` or the type's own compact field list. */
  compact(obj: AsanaObject): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of COMPACT_FIELDS[obj.resource_type] ?? DEFAULT_COMPACT) {
      if (f in obj) out[f] = this.#plain(obj[f]);
    }
    return out;
  }

  /** The full form: every field, references compact. */
  full(obj: AsanaObject): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, value] of Object.entries(obj)) out[k] = this.#plain(value);
    return out;
  }

  /** Exactly the requested fields plus gid. */
  project(obj: Record<string, unknown>, tree: FieldTree): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if ("gid" in obj) out.gid = obj.gid;
    for (const [field, sub] of tree) {
      if (field === "gid" || !(field in obj)) continue;
      out[field] = this.#projectValue(obj[field], sub);
    }
    return out;
  }

  #projectValue(value: unknown, sub: FieldTree): unknown {
    if (Array.isArray(value)) return value.map((v) => this.#projectValue(v, sub));
    if (value instanceof Ref) {
      const target = this.#objects.get(value.gid);
      if (!target) return null;
      return sub.size === 0
        ? { gid: target.gid, resource_type: target.resource_type }
        : this.project(target, sub);
    }
    if (typeof value === "object" && value !== null) {
      const obj = value as Record<string, unknown>;
      return sub.size === 0 ? this.#plain(obj) : this.project(obj, sub);
    }
    return value;
  }

  /** A value with every reference in compact form. */
  #plain(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.#plain(v));
    if (value instanceof Ref) {
      const target = this.#objects.get(value.gid);
      return target
        ? { gid: target.gid, resource_type: target.resource_type, name: target.name }
        : null;
    }
    if (typeof value === "object" && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.#plain(v);
      return out;
    }
    return value;
  }
}
