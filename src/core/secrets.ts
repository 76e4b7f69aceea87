/**
 * Secrets: every value that came from the environment or `.dlt/*.toml` (and every
 * credential) is removed from whatever restpipe prints or stores, in each encoding
 * it may appear in.
 *
 * @module
 */

/** Secrets shorter than this are not redacted (they would mangle ordinary text). */
export const MIN_SECRET_LENGTH = 4;

/** The forms a secret may take in a URL, a header or a message. */
export function encodingsOf(secret: string): string[] {
  const forms = new Set([
    secret,
    encodeURIComponent(secret),
    encodeURI(secret),
    new URLSearchParams({ x: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
  ]);
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

/**
 * Replaces secrets with `***`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Redactor } from "./secrets.ts";
 * assert.deepEqual(new Redactor(["s3cr3t value"]).redact("?k=s3cr3t+value"), "?k=***");
 * ```
 */
export class Redactor {
  readonly #forms: string[];
  readonly #secrets: string[];

  /** Creates a redactor for these secret values (short ones are ignored). */
  constructor(secrets: Iterable<string>) {
    this.#secrets = [...secrets];
    const forms = new Set<string>();
    for (const s of this.#secrets) {
      if (s.length < MIN_SECRET_LENGTH) continue;
      for (const f of encodingsOf(s)) forms.add(f);
    }
    // longest first: a secret that contains another is removed whole
    this.#forms = [...forms].sort((a, b) => b.length - a.length);
  }

  /** A redactor for these secrets and more. */
  with(more: Iterable<string>): Redactor {
    return new Redactor([...this.#secrets, ...more]);
  }

  /** True when there is nothing to redact. */
  get empty(): boolean {
    return this.#forms.length === 0;
  }

  /** The text with every secret (in any of its encodings) replaced by `***`. */
  redact(text: string): string {
    let out = text;
    for (const f of this.#forms) {
      if (out.includes(f)) out = out.replaceAll(f, "***");
    }
    return out;
  }

  /** Does the text hold a secret? */
  contains(text: string): boolean {
    return this.#forms.some((f) => text.includes(f));
  }
}
