/**
 * Reads a spec file: YAML with positions, `${VAR}` interpolation, validation
 * against the schemas, and the resource-graph checks, all errors at once.
 *
 * @module
 */
import * as v from "valibot";
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { type KeyPath, SpecError, type SpecIssue } from "./errors.ts";
import {
  interpolate,
  type MissingVariable,
  readDltTomls,
  type ResolvedVariable,
  type SecretSources,
} from "./interpolate.ts";
import { type Spec, SpecSchema } from "./schema.ts";
import { didYouMean } from "./suggest.ts";
import { checkGraph } from "./graph.ts";
import { checkOpenApi, type OpenApiDocument } from "./openapi.ts";

/** Options for {@linkcode loadSpec}. */
export interface LoadSpecOptions {
  /** Report unset `${VAR}`s as errors (true for `run`; `show` only needs names). Default true. */
  requireVariables?: boolean;
  /** Folder holding `.dlt/`; the working directory by default. */
  configDir?: string;
  /** Check every resource against this OpenAPI description too (`check --openapi`). */
  openapi?: OpenApiDocument;
}

/** A validated spec and where it came from. */
export interface LoadedSpec {
  /** The validated spec. */
  spec: Spec;
  /** The file, as the user named it. */
  file: string;
  /** The `${VAR}`s it uses and where each was found (never the values). */
  variables: ResolvedVariable[];
  /**
   * Every value that came from the environment or `.dlt/*.toml`: secrets, never to be
   * shown or stored (pass them to `runPipeline` and redact output with them).
   */
  secrets: string[];
  /** The `${VAR}`s that were not set (none unless `requireVariables` is false). */
  missing: MissingVariable[];
}

/** Reads, interpolates and validates a spec file. Throws {@linkcode SpecError} listing every problem. */
export async function loadSpec(file: string, options: LoadSpecOptions = {}): Promise<LoadedSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : String(e);
    throw new SpecError(file, [{ path: [], message: why }]);
  }
  return parseSpec(text, file, options);
}

/** Like {@linkcode loadSpec}, from text already read. */
export function parseSpec(text: string, file: string, options: LoadSpecOptions = {}): LoadedSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new SpecError(
      file,
      doc.errors.map((e) => ({
        path: [],
        message: e.message.split("\n")[0],
        line: e.linePos?.[0].line,
        column: e.linePos?.[0].col,
      })),
    );
  }
  const locate = (path: KeyPath): { line?: number; column?: number } => {
    const offset = offsetOf(doc.contents, path);
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const at = (path: KeyPath, message: string, offset?: number): SpecIssue => {
    const inside = offset === undefined ? undefined : offsetWithin(doc.contents, path, offset);
    if (inside === undefined) return { path, message, ...locate(path) };
    const { line, col } = lineCounter.linePos(inside);
    return { path, message, line, column: col };
  };

  const raw: unknown = doc.toJS();
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SpecError(file, [
      at([], "expected a mapping with pipeline, dataset, source and resources"),
    ]);
  }
  const rawRecord = raw as Record<string, unknown>;
  const pipeline = typeof rawRecord.pipeline === "string" ? rawRecord.pipeline : "";
  const sections = Array.isArray(rawRecord.config_sections)
    ? rawRecord.config_sections.filter((s): s is string => typeof s === "string")
    : [pipeline];
  const src: SecretSources = {
    tomls: readDltTomls(options.configDir ?? Deno.cwd()),
    sections,
    pipeline,
  };
  const missing: MissingVariable[] = [];
  const variables: ResolvedVariable[] = [];
  const secrets: string[] = [];
  const data = interpolate(raw, src, missing, [], variables, secrets);

  const issues: SpecIssue[] = [];
  if (options.requireVariables ?? true) {
    for (const m of missing) {
      issues.push(at(m.path, `\${${m.variable}} is not set; looked for ${m.lookedIn}`));
    }
  }
  const result = v.safeParse(SpecSchema, data);
  if (!result.success) {
    for (const issue of result.issues) issues.push(at(...describeIssue(issue, data)));
  }
  for (const g of checkGraph(data)) issues.push(at(g.path, g.message, g.offset));
  for (const n of checkNames(data)) issues.push(at(n.path, n.message));
  if (issues.length > 0 || !result.success) throw new SpecError(file, dedupe(issues));
  if (options.openapi) {
    const found = checkOpenApi(result.output, data, options.openapi);
    if (found.length > 0) throw new SpecError(file, found.map((i) => at(i.path, i.message)));
  }
  try {
    const base = new URL(result.output.source.base_url);
    for (const part of [base.username, base.password]) {
      if (part !== "") secrets.push(part, decodeURIComponent(part));
    }
  } catch { /* validated above */ }
  return { spec: result.output, file, variables, secrets: [...new Set(secrets)], missing };
}

function dedupe(issues: SpecIssue[]): SpecIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path.join("\0")}|${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

type Issue = v.InferIssue<typeof SpecSchema>;

/** Turns a valibot issue into a key path and a message a user can act on. */
function describeIssue(issue: Issue, data: unknown): [KeyPath, string] {
  const path: (string | number)[] = (issue.path ?? []).map((p) => p.key as string | number);
  if (issue.type === "strict_object" && issue.kind === "schema" && issue.expected === "never") {
    const key = String(path[path.length - 1]);
    const known = knownKeys(path.slice(0, -1), data);
    return [path, `unknown key "${key}"${didYouMean(key, known)}`];
  }
  if (issue.kind === "schema" && issue.received === "undefined") {
    return [path.slice(0, -1), `missing required key "${path[path.length - 1]}"`];
  }
  if (issue.message.startsWith("Invalid ")) {
    return [path, `expected ${issue.expected ?? "a valid value"}, got ${issue.received}`];
  }
  return [path, issue.message];
}

interface SchemaLike {
  type: string;
  entries?: Record<string, SchemaLike>;
  wrapped?: SchemaLike;
  value?: SchemaLike;
  options?: SchemaLike[];
  key?: string;
}

/** The keys the schema allows at `path`, for "did you mean" (empty when unknown). */
function knownKeys(path: KeyPath, data: unknown): string[] {
  let schema: SchemaLike | undefined = SpecSchema as unknown as SchemaLike;
  let node: unknown = data;
  const unwrap = (s: SchemaLike | undefined): SchemaLike | undefined => {
    while (s?.wrapped) s = s.wrapped;
    if ((s?.type === "variant" || s?.type === "union") && s.options) {
      const obj = node as Record<string, unknown> | undefined;
      const pick = s.options.find((o) =>
        o.entries && (s?.key === undefined ||
          (o.entries[s.key] as { literal?: unknown } | undefined)?.literal === obj?.[s.key])
      );
      return pick ?? s.options.find((o) => o.entries);
    }
    return s;
  };
  for (const key of path) {
    schema = unwrap(schema);
    node = (node as Record<string | number, unknown> | undefined)?.[key];
    if (schema?.entries) schema = schema.entries[String(key)];
    else if (schema?.value) schema = schema.value;
    else return [];
  }
  schema = unwrap(schema);
  return Object.keys(schema?.entries ?? {});
}

/** The source offset of the value (or, for a missing key, the map) at `path`. */
export function offsetOf(root: unknown, path: KeyPath): number | undefined {
  let node = root as Node | null;
  let best = node?.range?.[0];
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      if (!pair) return best;
      const keyNode = pair.key as Node;
      best = keyNode.range?.[0] ?? best;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key] as Node | null;
      if (!node) return best;
      best = node.range?.[0] ?? best;
    } else {
      return best;
    }
  }
  return best;
}

/**
 * The source offset of character `offset` of the one-line string at `path` (inside its
 * quotes, if quoted); undefined when the value is not such a string.
 */
function offsetWithin(root: unknown, path: KeyPath, offset: number): number | undefined {
  let node = root as Node | null;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      node = (pair?.value ?? null) as Node | null;
    } else if (isSeq(node) && typeof key === "number") node = node.items[key] as Node | null;
    else return undefined;
  }
  if (!isScalar(node) || typeof node.value !== "string" || !node.range) return undefined;
  const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
  if (node.type !== "PLAIN" && !quoted) return undefined;
  if (node.range[1] - node.range[0] !== node.value.length + (quoted ? 2 : 0)) return undefined;
  return node.range[0] + (quoted ? 1 : 0) + offset;
}

/** Names JavaScript objects reserve: a resource or table named so would misbehave. */
export const RESERVED_JS_NAMES: ReadonlySet<string> = new Set(
  Object.getOwnPropertyNames(Object.prototype),
);

/**
 * Names that clash with restpipe's system tables (`_dlt_*`), with schemas Postgres
 * reserves (`pg_*`, `information_schema`), or with JavaScript objects' own names.
 */
export function checkNames(data: unknown): { path: KeyPath; message: string }[] {
  const out: { path: KeyPath; message: string }[] = [];
  if (typeof data !== "object" || data === null) return out;
  const d = data as Record<string, unknown>;
  if (typeof d.dataset === "string") {
    const ds = d.dataset.toLowerCase();
    if (ds.startsWith("pg_") || ds === "information_schema") {
      out.push({
        path: ["dataset"],
        message: `"${d.dataset}" is a schema Postgres reserves; choose another dataset name`,
      });
    }
  }
  const resources = d.resources;
  if (typeof resources !== "object" || resources === null) return out;
  for (const [name, r] of Object.entries(resources as Record<string, unknown>)) {
    const table = typeof r === "object" && r !== null &&
        typeof (r as Record<string, unknown>).table === "string"
      ? (r as Record<string, string>).table
      : undefined;
    for (
      const [value, path] of [[name, ["resources", name]], [table, [
        "resources",
        name,
        "table",
      ]]] as const
    ) {
      if (value === undefined) continue;
      if (value.toLowerCase().startsWith("_dlt_")) {
        out.push({
          path: [...path],
          message: `"${value}" clashes with the system tables (_dlt_*)`,
        });
      } else if (RESERVED_JS_NAMES.has(value) || value === "__proto__") {
        out.push({
          path: [...path],
          message: `"${value}" is a name JavaScript objects reserve; choose another`,
        });
      }
    }
  }
  return out;
}
