/**
 * Column types: inference from JSON values, and whether a value fits a column.
 *
 * @module
 */
import type { COLUMN_TYPES } from "../spec/schema.ts";

/** The Postgres types restpipe writes. */
export type DataType = typeof COLUMN_TYPES[number];

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|([+-])(\d{2})(?::?(\d{2}))?)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The largest and smallest values of a Postgres `bigint`. */
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

function validDate(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const days = [
    31,
    y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ];
  return d <= days[m - 1];
}

/**
 * Is this string an ISO-8601 instant (with a zone) that Postgres accepts as it is?
 * Impossible dates (Feb 30, year 0000), hours past 23 and offsets past ±15:59 are not.
 */
export function isInstant(s: string): boolean {
  // most strings are not: a look at the length and the date's dashes spares the pattern
  if (s.length < 17 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false;
  const m = INSTANT.exec(s);
  if (!m) return false;
  if (!validDate(+m[1], +m[2], +m[3])) return false;
  if (+m[4] > 23 || +m[5] > 59 || (m[6] !== undefined && +m[6] > 59)) return false;
  if (m[7] !== undefined && (+m[8] > 15 || (m[9] !== undefined && +m[9] > 59))) return false;
  return true;
}

/** Is this string a calendar date (`YYYY-MM-DD`) that exists? */
export function isDate(s: string): boolean {
  const m = DATE.exec(s);
  return m !== null && validDate(+m[1], +m[2], +m[3]);
}

/** Does a `bigint` fit a Postgres `bigint`? */
export function isInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/**
 * The type a scalar JSON value suggests: bigint, numeric (integers past 64 bits),
 * double precision, boolean, timestamptz or text.
 */
export function inferType(value: unknown): DataType {
  switch (typeof value) {
    case "boolean":
      return "boolean";
    case "number":
      return Number.isSafeInteger(value) ? "bigint" : "double precision";
    case "bigint":
      return isInt64(value) ? "bigint" : "numeric";
    case "string":
      return isInstant(value) ? "timestamptz" : "text";
    default:
      return "jsonb";
  }
}

/**
 * The type of a primary-key column for a value: text, bigint or numeric, whose text
 * form in SQL (`col::text`) is the key's canonical text.
 */
export function keyType(value: unknown): DataType {
  if (typeof value === "number" && Number.isSafeInteger(value)) return "bigint";
  if (typeof value === "bigint") return isInt64(value) ? "bigint" : "numeric";
  return "text";
}

/** The wider of two key column types: bigint < numeric < text. */
export function widerKeyType(a: DataType, b: DataType): DataType {
  const rank = (t: DataType) => t === "bigint" ? 0 : t === "numeric" ? 1 : 2;
  return rank(a) >= rank(b) ? (rank(a) === 2 ? "text" : a) : (rank(b) === 2 ? "text" : b);
}

/** Short names used in variant columns: `due_on__v_text`. */
export const VARIANT_SUFFIX: Record<DataType, string> = {
  "text": "text",
  "bigint": "bigint",
  "double precision": "double",
  "numeric": "numeric",
  "boolean": "bool",
  "timestamptz": "timestamptz",
  "date": "date",
  "jsonb": "json",
};

/** Marks a value that does not fit a column type. */
export const NO_FIT: unique symbol = Symbol("no fit");

/**
 * The value as the column will store it, or {@linkcode NO_FIT} when storing it
 * there would fail or lose information.
 */
export function fit(type: DataType, value: unknown): unknown {
  switch (type) {
    case "jsonb":
      return value;
    case "text":
      if (typeof value === "string") return value;
      return typeof value === "number" || typeof value === "boolean" || typeof value === "bigint"
        ? String(value)
        : NO_FIT;
    case "bigint":
      if (typeof value === "bigint") return isInt64(value) ? value : NO_FIT;
      return Number.isSafeInteger(value) ? value : NO_FIT;
    case "numeric":
      if (typeof value === "bigint") return value;
      return typeof value === "number" && Number.isFinite(value) ? value : NO_FIT;
    case "double precision":
      return typeof value === "number" && Number.isFinite(value) ? value : NO_FIT;
    case "boolean":
      return typeof value === "boolean" ? value : NO_FIT;
    case "timestamptz":
      return typeof value === "string" && isInstant(value) ? value : NO_FIT;
    case "date":
      return typeof value === "string" && isDate(value) ? value : NO_FIT;
  }
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const TRUE = new Set(["true", "t", "yes", "y", "1"]);
const FALSE = new Set(["false", "f", "no", "n", "0"]);

/**
 * A value converted to a declared column type (`columns:` hints, as dlt's): 0/1 and
 * "true"/"false" to booleans, numeric strings to numbers, epoch seconds or milliseconds
 * (`format`) and date strings to instants and dates. {@linkcode NO_FIT} when it cannot be.
 */
export function convert(
  type: DataType,
  value: unknown,
  format?: "epoch_s" | "epoch_ms",
): unknown {
  const direct = fit(type, value);
  if (direct !== NO_FIT && !(format && (type === "timestamptz" || type === "date"))) {
    return direct;
  }
  const text = typeof value === "string" ? value.trim() : undefined;
  switch (type) {
    case "boolean":
      if (value === 1 || value === 0 || value === 1n || value === 0n) return Number(value) === 1;
      if (text !== undefined && TRUE.has(text.toLowerCase())) return true;
      if (text !== undefined && FALSE.has(text.toLowerCase())) return false;
      return NO_FIT;
    case "bigint":
      if (text !== undefined && INTEGER.test(text)) {
        return fit("bigint", BigInt(text)) === NO_FIT
          ? NO_FIT
          : (Number.isSafeInteger(Number(text)) ? Number(text) : BigInt(text));
      }
      if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
      return NO_FIT;
    case "numeric":
      if (text !== undefined && INTEGER.test(text)) return BigInt(text);
      // the decimal's own digits, not a double's: numeric stores them all
      if (text !== undefined && DECIMAL.test(text)) {
        return new Decimal(
          text.replace(/^\+/, "").replace(/^(-?)\./, "$10.").replace(/\.(?=$|[eE])/, ""),
        );
      }
      return NO_FIT;
    case "double precision":
      if (text !== undefined && DECIMAL.test(text)) return Number(text);
      if (typeof value === "bigint") return Number(value);
      return NO_FIT;
    case "timestamptz":
    case "date": {
      let instant: string | undefined;
      const n = typeof value === "number" || typeof value === "bigint"
        ? Number(value)
        : text !== undefined && DECIMAL.test(text)
        ? Number(text)
        : undefined;
      if (n !== undefined) {
        if (!format) return NO_FIT;
        const ms = format === "epoch_s" ? n * 1000 : n;
        const d = new Date(ms);
        if (Number.isNaN(d.getTime())) return NO_FIT;
        instant = d.toISOString();
      } else if (text !== undefined) {
        const iso = text.replace(/^(\d{4}-\d{2}-\d{2})[ T]/, "$1T");
        if (isInstant(iso)) instant = iso;
        else if (isInstant(`${iso}Z`)) instant = `${iso}Z`;
        else if (isDate(text)) instant = `${text}T00:00:00Z`;
      }
      if (instant === undefined) return NO_FIT;
      return type === "date" ? instant.slice(0, 10) : instant;
    }
    case "text":
    case "jsonb":
      return direct;
  }
}

/** A decimal number kept as its digits (a numeric column's value from a string). */
export class Decimal {
  /** Creates it from validated decimal text. */
  constructor(readonly digits: string) {}
  /** The digits, as SQL and JSON write them. */
  toString(): string {
    return this.digits;
  }
  /** JSON writes the number itself, every digit. */
  toJSON(): unknown {
    return (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON(this.digits);
  }
}
