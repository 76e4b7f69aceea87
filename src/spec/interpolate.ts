/**
 * `${VAR}` and `${VAR:-default}` interpolation, from the environment and from
 * dlt's `.dlt/secrets.toml` and `.dlt/config.toml`.
 *
 * @module
 */
import { parse as parseToml } from "smol-toml";
import { type KeyPath, SpecError } from "./errors.ts";

/** Where unset variables are looked up besides the environment. */
export interface SecretSources {
  /** Parsed TOML documents, in lookup order (secrets before config). */
  tomls: { file: string; data: Record<string, unknown> }[];
  /** `[sources.<section>]` names to search, in order. */
  sections: string[];
  /** The pipeline name: `SHOP_API_TOKEN` is also tried as `api_token` for pipeline `shop`. */
  pipeline: string;
}

/** A variable that was resolved, and where from (never its value). */
export interface ResolvedVariable {
  /** The variable's name (`ASANA_ACCESS_TOKEN`). */
  variable: string;
  /** Where its value came from. */
  from: "environment" | ".dlt/secrets.toml" | ".dlt/config.toml" | "default";
  /** Where in the spec it is used. */
  path?: KeyPath;
}

/** A variable that could not be resolved, where it was used and where it was looked for. */
export interface MissingVariable {
  /** Where in the spec it is used. */
  path: KeyPath;
  /** Its name. */
  variable: string;
  /** Where it was looked for, in words. */
  lookedIn: string;
}

/**
 * Reads `.dlt/secrets.toml` and `.dlt/config.toml` below `dir` (missing files are
 * skipped). A malformed file is a {@linkcode SpecError} with its line and column, and
 * without quoting the file (it holds secrets).
 */
export function readDltTomls(dir: string): SecretSources["tomls"] {
  const out: SecretSources["tomls"] = [];
  for (const name of ["secrets.toml", "config.toml"]) {
    const file = `${dir}/.dlt/${name}`;
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    let data: Record<string, unknown>;
    try {
      data = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      const pos = e as { line?: number; column?: number; message?: string };
      const why = String(pos.message ?? e).split("\n")[0].replace(/^Invalid TOML document: /, "");
      throw new SpecError(`.dlt/${name}`, [{
        path: [],
        message: `invalid TOML: ${why} (the file's content is not shown: it may hold secrets)`,
        line: pos.line,
        column: pos.column,
      }]);
    }
    out.push({ file: `.dlt/${name}`, data });
  }
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** The TOML key names tried for a variable: `SHOP_API_TOKEN` → `shop_api_token`, `api_token`. */
export function tomlKeysFor(variable: string, pipeline: string): string[] {
  const lower = variable.toLowerCase();
  const prefix = `${pipeline.toLowerCase()}_`;
  return lower.startsWith(prefix) ? [lower, lower.slice(prefix.length)] : [lower];
}

function lookupToml(
  variable: string,
  src: SecretSources,
): { value: string; file: string } | undefined {
  const keys = tomlKeysFor(variable, src.pipeline);
  for (const { data, file } of src.tomls) {
    const sources = isRecord(data.sources) ? data.sources : {};
    const scopes: unknown[] = [...src.sections.map((s) => sources[s]), sources, data];
    for (const scope of scopes) {
      if (!isRecord(scope)) continue;
      for (const key of keys) {
        const value = scope[key];
        if (typeof value === "string" || typeof value === "number") {
          return { value: String(value), file };
        }
      }
    }
  }
  return undefined;
}

function lookupEnv(variable: string, src: SecretSources): string | undefined {
  const direct = Deno.env.get(variable);
  if (direct !== undefined) return direct;
  // dlt's own environment convention: SOURCES__<SECTION>__<KEY>
  for (const section of src.sections) {
    for (const key of tomlKeysFor(variable, src.pipeline)) {
      const value = Deno.env.get(`SOURCES__${section.toUpperCase()}__${key.toUpperCase()}`);
      if (value !== undefined) return value;
    }
  }
  return undefined;
}

/** Describes where a variable was looked for, for the "not set" message. */
export function describeLookup(variable: string, src: SecretSources): string {
  const keys = tomlKeysFor(variable, src.pipeline);
  const section = src.sections[0] ?? src.pipeline;
  return `the environment variable ${variable}, or ${keys[keys.length - 1]} under ` +
    `[sources.${section}] in .dlt/secrets.toml or .dlt/config.toml`;
}

/**
 * The base URL is not a secret (errors must name where requests went); credentials
 * written into it (`https://user:pass@host`) are, and are added by the spec loader.
 */
function isBaseUrl(path: KeyPath): boolean {
  return path.length === 2 && path[0] === "source" && path[1] === "base_url";
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of `value`.
 * Unset variables without a default are reported in `missing` and replaced by "".
 */
export function interpolate(
  value: unknown,
  src: SecretSources,
  missing: MissingVariable[],
  path: KeyPath = [],
  resolved: ResolvedVariable[] = [],
  secrets: string[] = [],
): unknown {
  if (typeof value === "string") {
    return value.replace(VAR, (_m, variable: string, fallback: string | undefined) => {
      const env = lookupEnv(variable, src);
      if (env !== undefined && env !== "") {
        resolved.push({ variable, from: "environment", path });
        if (!isBaseUrl(path)) secrets.push(env);
        return env;
      }
      const toml = lookupToml(variable, src);
      if (toml !== undefined && toml.value !== "") {
        resolved.push({ variable, from: toml.file as ResolvedVariable["from"], path });
        if (!isBaseUrl(path)) secrets.push(toml.value);
        return toml.value;
      }
      if (fallback !== undefined) {
        resolved.push({ variable, from: "default", path });
        return fallback;
      }
      missing.push({ path, variable, lookedIn: describeLookup(variable, src) });
      return "";
    });
  }
  if (Array.isArray(value)) {
    return value.map((x, i) => interpolate(x, src, missing, [...path, i], resolved, secrets));
  }
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(value)) {
      out[k] = interpolate(x, src, missing, [...path, k], resolved, secrets);
    }
    return out;
  }
  return value;
}
