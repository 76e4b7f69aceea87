/**
 * `{resource.field}` placeholders in paths, params and headers.
 *
 * @module
 */

/** One placeholder: the resource it names and the dotted field path inside its record. */
export interface Placeholder {
  /** The text as written, braces included. */
  text: string;
  /** A resource name, or `parent` for the direct parent. */
  resource: string;
  /** Dotted path into that resource's record. */
  field: string;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_.]+))?\}/g;

/** The placeholders in a template string. */
export function placeholders(template: string): Placeholder[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => ({
    text: m[0],
    resource: m[1],
    field: m[2] ?? "",
  }));
}

/**
 * Fills a template's placeholders from the ancestor records of a request chain.
 * `resolve(resource, field)` returns the value or throws when it is absent.
 */
export function render(
  template: string,
  resolve: (resource: string, field: string) => string,
  encode: (s: string) => string = (s) => s,
): string {
  return template.replace(
    PLACEHOLDER,
    (_m, resource: string, field: string | undefined) => encode(resolve(resource, field ?? "")),
  );
}
