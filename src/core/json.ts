/**
 * Exact JSON: integers past 2^53 keep every digit (as `bigint`), and text Postgres
 * cannot hold (a NUL, a lone surrogate) is replaced by U+FFFD and counted. Everything
 * else is exactly what `JSON.parse` gives; the slow, exact path runs only on bodies
 * that could need it.
 *
 * @module
 */

/** What {@linkcode parseJson} had to change. */
export interface JsonRepairs {
  /** Characters replaced by U+FFFD (NUL and lone surrogates), in values and keys. */
  replacedCharacters: number;
}

/** An unquoted integer of 16 digits or more: it may be past 2^53. */
const LONG_INTEGER = /[:[,]\s*-?\d{16,}\s*[,\]}]/;
/** A NUL or a surrogate, escaped or raw: may need replacing. */
// deno-lint-ignore no-control-regex -- NUL is exactly what is searched for
const ODD_TEXT = /\\u(0000|[dD][89a-fA-F])|\u0000/;
// deno-lint-ignore no-control-regex -- NUL is exactly what is searched for
const BAD_CHARS = /[\u0000\uD800-\uDFFF]/;

/** Replaces NULs and lone surrogates with U+FFFD; returns the text and how many were replaced. */
export function cleanText(s: string): [string, number] {
  if (!BAD_CHARS.test(s)) return [s, 0];
  let n = 0;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) {
      out += "\uFFFD";
      n++;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else {
        out += "\uFFFD";
        n++;
      }
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      out += "\uFFFD";
      n++;
    } else {
      out += s[i];
    }
  }
  return [out, n];
}

type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown;

/**
 * Parses JSON text exactly: integers that a double cannot hold become `bigint`, and
 * NULs and lone surrogates in strings and keys become U+FFFD (counted in `repairs`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJson } from "./json.ts";
 * const repairs = { replacedCharacters: 0 };
 * assert.deepEqual(parseJson('{"id": 12345678901234567890}', repairs), { id: 12345678901234567890n });
 * ```
 */
export function parseJson(text: string, repairs: JsonRepairs): unknown {
  const big = LONG_INTEGER.test(text);
  const odd = ODD_TEXT.test(text);
  if (!big && !odd) return JSON.parse(text);
  const reviver: Reviver = function (_key, value, context) {
    if (typeof value === "number") {
      if (big && !Number.isSafeInteger(value) && Number.isInteger(value)) {
        const source = context?.source;
        if (source !== undefined && /^-?\d+$/.test(source)) return BigInt(source);
      }
      return value;
    }
    if (!odd) return value;
    if (typeof value === "string") {
      const [clean, n] = cleanText(value);
      repairs.replacedCharacters += n;
      return clean;
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const obj = value as Record<string, unknown>;
      if (!Object.keys(obj).some((k) => BAD_CHARS.test(k))) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) {
        const [clean, n] = cleanText(k);
        repairs.replacedCharacters += n;
        Object.defineProperty(out, clean, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return value;
  };
  try {
    return JSON.parse(text, reviver as (this: unknown, key: string, value: unknown) => unknown);
  } catch (e) {
    // a reviver recurses: a body nested deeper than the stack is parsed plainly
    if (e instanceof RangeError) return JSON.parse(text);
    throw e;
  }
}

/** `JSON.stringify` that writes `bigint`s as exact JSON numbers. */
export function stringifyJson(value: unknown): string {
  try {
    // the fast path, and the only one that copes with values nested very deep
    return JSON.stringify(value);
  } catch (e) {
    if (!(e instanceof TypeError) || !/bigint/i.test(e.message)) throw e;
  }
  return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? rawJson(v.toString()) : v);
}

const rawJsonFn = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

function rawJson(text: string): unknown {
  return rawJsonFn(text);
}
