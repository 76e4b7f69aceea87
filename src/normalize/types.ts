/**
 * Column types: inference from JSON values, and whether a value fits a column.
 *
 * @module
 */
import type { COLUMN_TYPES } from "../spec/schema.ts";

/** The Postgres types restpipe writes. */
export type DataType = typeof COLUMN_TYPES[number];

const INSTANT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Is this string an ISO-8601 instant (with a zone)? */
export function isInstant(s: string): boolean {
  return INSTANT.test(s) && !Number.isNaN(Date.parse(s));
}

/** The type a scalar JSON value suggests: bigint, double precision, boolean, timestamptz or text. */
export function inferType(value: unknown): DataType {
  switch (typeof value) {
    case "boolean":
      return "boolean";
    case "number":
      return Number.isSafeInteger(value) ? "bigint" : "double precision";
    case "string":
      return isInstant(value) ? "timestamptz" : "text";
    default:
      return "jsonb";
  }
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
      return typeof value === "number" || typeof value === "boolean" ? String(value) : NO_FIT;
    case "bigint":
      return Number.isSafeInteger(value) ? value : NO_FIT;
    case "double precision":
    case "numeric":
      return typeof value === "number" && Number.isFinite(value) ? value : NO_FIT;
    case "boolean":
      return typeof value === "boolean" ? value : NO_FIT;
    case "timestamptz":
      return typeof value === "string" && isInstant(value) ? value : NO_FIT;
    case "date":
      return typeof value === "string" && DATE.test(value) ? value : NO_FIT;
  }
}
