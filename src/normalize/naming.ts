/**
 * Identifier normalisation: snake_case, at most 63 bytes, safe to quote.
 *
 * @module
 */

/** Postgres truncates identifiers past this many bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Separator between the parts of a flattened path (`owner__id`, `orders__items`). */
export const PATH_SEPARATOR = "__";

const encoder = new TextEncoder();

/** A short, stable hash of a string (FNV-1a, base 36). */
export function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36).padStart(7, "0");
}

/** One key as a snake_case segment: `customFields` → `custom_fields`, `Émoji ✨` → `emoji`. */
export function snakeCase(key: string): string {
  let s = key
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_");
  const lead = s.startsWith("_") ? "_" : "";
  s = lead + s.replace(/_+/g, "_").replace(/^_|_$/g, "");
  if (s === "" || s === "_") s = "_" + shortHash(key);
  if (/^[0-9]/.test(s)) s = "_" + s;
  return s;
}

/** Shortens a name past 63 bytes, keeping it unique with a hash of the whole name. */
export function fitIdentifier(name: string): string {
  if (encoder.encode(name).length <= MAX_IDENTIFIER_BYTES) return name;
  const suffix = "_" + shortHash(name);
  let head = name;
  while (encoder.encode(head).length > MAX_IDENTIFIER_BYTES - suffix.length) {
    head = head.slice(0, -1);
  }
  return head + suffix;
}

/** Joins path segments with `__` and fits the result. */
export function joinPath(segments: readonly string[]): string {
  return fitIdentifier(segments.map(snakeCase).join(PATH_SEPARATOR));
}

/** Picks `name`, or `name_2`, `name_3`… when `taken` already holds it. */
export function uniqueName(name: string, taken: (n: string) => boolean): string {
  if (!taken(name)) return name;
  for (let i = 2;; i++) {
    const candidate = fitIdentifier(`${name}_${i}`);
    if (!taken(candidate)) return candidate;
  }
}

/** Quotes an identifier for SQL: `"my ""odd"" name"`. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for SQL. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
