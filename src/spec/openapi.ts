/**
 * `check --openapi`: a spec's resources against the API's OpenAPI description: each
 * path exists with `GET`, each param is declared and each required one given, and each
 * `fields` entry is a field the API can return.
 *
 * @module
 */
import type { KeyPath } from "./errors.ts";
import type { Paginator, Spec } from "./schema.ts";
import { paginatorOf } from "../connect/paginators/mod.ts";
import { didYouMean } from "./suggest.ts";

/** The parts of an OpenAPI 3 document the check reads. */
export interface OpenApiDocument {
  /** The API's paths, each with its operations. */
  paths?: Record<string, Record<string, unknown>>;
  /** Shared parameters and schemas that `$ref`s point to. */
  components?: { parameters?: Record<string, unknown>; schemas?: Record<string, unknown> };
}

/** One mismatch, at a key path of the spec. */
export interface OpenApiIssue {
  /** Where in the spec the problem is. */
  path: KeyPath;
  /** What is wrong, and how to fix it. */
  message: string;
}

/** A parameter of an operation, as far as the checks and `init` need it. */
export interface Parameter {
  name: string;
  /** `query`, `path`, `header` or `cookie`. */
  in: string;
  required: boolean;
  /** The allowed values of an array or string parameter (a field-list parameter's names). */
  allowed: string[] | undefined;
  /** The greatest value a number parameter takes (a page size's limit). */
  maximum: number | undefined;
  /** The description's default value, when it gives one. */
  default?: string | undefined;
  /** The parameter's description (`Zero-based page number`). */
  description?: string | undefined;
}

/** A JSON object. */
export type Json = Record<string, unknown>;

/** Is this a JSON object (not null, not a list)? */
export const isObject = (x: unknown): x is Json =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** Follows a local `$ref` (`#/components/…`). */
export function deref(doc: OpenApiDocument, node: unknown, depth = 0): unknown {
  if (!isObject(node) || typeof node.$ref !== "string" || depth > 32) return node;
  const parts = node.$ref.replace(/^#\//, "").split("/").map((p) =>
    p.replaceAll("~1", "/").replaceAll("~0", "~")
  );
  let target: unknown = doc;
  for (const p of parts) target = isObject(target) ? target[p] : undefined;
  return deref(doc, target, depth + 1);
}

/** The parameters of an operation: its path item's and its own, `$ref`s followed. */
export function parametersOf(doc: OpenApiDocument, pathItem: Json, op: Json): Parameter[] {
  const raw = [
    ...(Array.isArray(pathItem.parameters) ? pathItem.parameters : []),
    ...(Array.isArray(op.parameters) ? op.parameters : []),
  ];
  const out: Parameter[] = [];
  for (const r of raw) {
    const p = deref(doc, r);
    if (!isObject(p) || typeof p.name !== "string" || typeof p.in !== "string") continue;
    const schema = deref(doc, p.schema);
    const items = isObject(schema) ? deref(doc, schema.items) : undefined;
    const allowed = isObject(items) && Array.isArray(items.enum)
      ? items.enum.map(String)
      : isObject(schema) && Array.isArray(schema.enum)
      ? schema.enum.map(String)
      : undefined;
    const maximum = isObject(schema) && typeof schema.maximum === "number"
      ? schema.maximum
      : undefined;
    const fallback = isObject(schema)
      ? schema.default ?? (isObject(items) ? items.default : undefined)
      : undefined;
    out.push({
      name: p.name,
      in: p.in,
      required: p.required === true,
      allowed,
      maximum,
      default: typeof fallback === "string" || typeof fallback === "number"
        ? String(fallback)
        : undefined,
      description: typeof p.description === "string" ? p.description : undefined,
    });
  }
  return out;
}

/** The OpenAPI path a spec path stands for: placeholders match any `{param}` segment. */
function matchPath(doc: OpenApiDocument, specPath: string): string | undefined {
  const want = specPath.split("?")[0].replace(/\/+$/, "").split("/");
  for (const path of Object.keys(doc.paths ?? {})) {
    const have = path.replace(/\/+$/, "").split("/");
    if (have.length !== want.length) continue;
    if (
      have.every((seg, i) =>
        seg === want[i] || (/^\{[^}]+\}$/.test(seg) && /^\{[^}]+\}$/.test(want[i]))
      )
    ) {
      return path;
    }
  }
  return undefined;
}

/**
 * A schema with its `allOf` parts merged into one (`$ref`s followed): their `type`,
 * `format` and other keywords, their `properties` side by side, and their `items` as one
 * `allOf`. Other schemas come back as they are.
 */
export function flatSchema(doc: OpenApiDocument, node: unknown, depth = 0): unknown {
  const s = deref(doc, node);
  if (!isObject(s) || !Array.isArray(s.allOf) || depth > 16) return s;
  const out: Json = { ...s };
  delete out.allOf;
  for (const part of s.allOf) {
    const p = flatSchema(doc, part, depth + 1);
    if (!isObject(p)) continue;
    for (const [k, v] of Object.entries(p)) {
      if (k === "properties" && isObject(out.properties) && isObject(v)) {
        out.properties = { ...out.properties, ...v };
      } else if (k === "items" && out.items !== undefined) {
        out.items = { allOf: [out.items, v] };
      } else out[k] = v;
    }
  }
  return out;
}

/** The properties of a schema (through `allOf`, `anyOf`, `oneOf`, `$ref`, and list items). */
export function propertiesOf(doc: OpenApiDocument, node: unknown, depth = 0): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const s = deref(doc, node);
  if (!isObject(s) || depth > 16) return out;
  // allOf merges; anyOf and oneOf may each be the record: any option's field is one
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const parts = s[key];
    for (const part of Array.isArray(parts) ? parts : []) {
      for (const [k, v] of propertiesOf(doc, part, depth + 1)) if (!out.has(k)) out.set(k, v);
    }
  }
  if (isObject(s.properties)) { for (const [k, v] of Object.entries(s.properties)) out.set(k, v); }
  if (s.type === "array" || s.items !== undefined) {
    for (const [k, v] of propertiesOf(doc, s.items, depth + 1)) out.set(k, v);
  }
  return out;
}

/** The record schema of a listing's 200 answer, at the spec's `records` path. */
function recordSchema(doc: OpenApiDocument, op: Json, records: string): unknown {
  const responses = isObject(op.responses) ? op.responses : {};
  const ok = deref(doc, responses["200"] ?? responses["201"]);
  const content = isObject(ok) && isObject(ok.content) ? ok.content : {};
  const media = deref(doc, content["application/json"]);
  let schema = isObject(media) ? media.schema : undefined;
  for (const key of records === "" ? [] : records.split(".")) {
    schema = propertiesOf(doc, schema).get(key);
  }
  return schema;
}

/** Is a dotted field a field of the schema (objects and lists of objects walked through)? */
function hasField(doc: OpenApiDocument, schema: unknown, field: string): boolean {
  let node = schema;
  for (const key of field.split(".")) {
    const props = propertiesOf(doc, node);
    if (!props.has(key)) return false;
    node = props.get(key);
  }
  return true;
}

/** Query parameters the paginator adds itself (not the spec's to declare). */
function paginatorParams(p: Paginator): string[] {
  return paginatorOf(p).params(p);
}

/**
 * Checks every resource of a validated spec against an OpenAPI description. `raw` is the
 * spec document as written (to tell a resource's own params from inherited ones).
 */
export function checkOpenApi(spec: Spec, raw: unknown, doc: OpenApiDocument): OpenApiIssue[] {
  const issues: OpenApiIssue[] = [];
  const always = new Set(spec.source.always_returned);
  const rawResources = isObject(raw) && isObject(raw.resources) ? raw.resources : {};
  const reportedSource = new Set<string>();
  for (const [name, r] of Object.entries(spec.resources)) {
    const at = (...path: (string | number)[]): KeyPath => ["resources", name, ...path];
    const found = matchPath(doc, r.path);
    if (found === undefined) {
      issues.push({
        path: at("path"),
        message: `${r.path} is not a path of the OpenAPI description${
          didYouMean(r.path, Object.keys(doc.paths ?? {}))
        }`,
      });
      continue;
    }
    const pathItem = doc.paths![found];
    const op = deref(doc, pathItem.get);
    if (!isObject(op)) {
      issues.push({ path: at("path"), message: `${found} has no GET in the OpenAPI description` });
      continue;
    }
    const declared = parametersOf(doc, pathItem, op).filter((p) => p.in === "query");
    const names = declared.map((p) => p.name);
    const own = isObject(rawResources[name]) && isObject(rawResources[name].params)
      ? rawResources[name].params as Json
      : {};
    const params = { ...spec.source.params, ...spec.defaults.params, ...r.params };
    const paginator = r.paginator ?? spec.source.paginator;
    const added = new Set([
      ...paginatorParams(paginator),
      ...(spec.source.fields_param ? [spec.source.fields_param] : []),
    ]);
    for (const [key, value] of Object.entries(params)) {
      if (value === null || names.includes(key)) continue;
      const where: KeyPath = key in own
        ? at("params", key)
        : spec.defaults.params && key in spec.defaults.params
        ? ["defaults", "params", key]
        : ["source", "params", key];
      if (where[0] !== "resources") {
        if (reportedSource.has(`${key}|${found}`)) continue;
        reportedSource.add(`${key}|${found}`);
      }
      issues.push({
        path: where,
        message: `GET ${found} declares no query parameter "${key}"${didYouMean(key, names)}` +
          (where[0] !== "resources" ? ` (resource ${name}; set it to null there)` : ""),
      });
    }
    for (const p of declared) {
      if (!p.required || added.has(p.name)) continue;
      if (params[p.name] === undefined || params[p.name] === null) {
        issues.push({
          path: at(),
          message: `GET ${found} requires the query parameter "${p.name}"; add it to params`,
        });
      }
    }
    if (r.fields && r.fields.length > 0) {
      const list = spec.source.fields_param
        ? declared.find((p) => p.name === spec.source.fields_param)?.allowed
        : undefined;
      const schema = list ? undefined : recordSchema(doc, op, r.records ?? spec.source.records);
      const known = (field: string) =>
        list
          ? list.includes(field) || list.some((f) => f.startsWith(`${field}.`))
          : schema === undefined || hasField(doc, schema, field);
      r.fields.forEach((field, i) => {
        if (always.has(field)) return;
        // `assignee.gid`: a key the API sends with every object, of an object it returns
        const dot = field.lastIndexOf(".");
        const ok = known(field) ||
          (dot > 0 && always.has(field.slice(dot + 1)) && known(field.slice(0, dot)));
        if (!ok) {
          issues.push({
            path: at("fields", i),
            message: `"${field}" is not a field GET ${found} returns${
              didYouMean(field, list ?? [...propertiesOf(doc, schema).keys()])
            }`,
          });
        }
      });
    }
  }
  return issues;
}
