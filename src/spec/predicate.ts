/**
 * `when:` predicates: a small expression language over a parent record's fields that
 * says when a child request is needed at all (`num_subtasks > 0`, `is_organization`).
 * Parsed once, evaluated per record, never code: paths, literals, comparisons, `and`,
 * `or`, `not` and parentheses.
 *
 * A field the record does not carry makes its comparison *unknown*, and an unknown
 * predicate makes the request: only an answer the record itself gives skips one.
 *
 * @module
 */
import { getPath } from "../core/paths.ts";

/** A literal value of an expression. */
export type Literal = number | string | boolean | null;

/** A parsed predicate. */
export type Predicate =
  | { kind: "path"; path: string }
  | { kind: "compare"; op: CompareOp; path: string; value: Literal }
  | { kind: "not"; operand: Predicate }
  | { kind: "and" | "or"; left: Predicate; right: Predicate };

/** A comparison operator. */
export type CompareOp = "==" | "!=" | "<" | "<=" | ">" | ">=";

/** A syntax error at a character offset of the expression. */
export class PredicateError extends Error {
  /** Creates the error; `offset` is 0-based within the expression. */
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = "PredicateError";
  }
}

type Token =
  | { t: "path"; v: string; at: number }
  | { t: "lit"; v: Literal; at: number }
  | { t: "op"; v: CompareOp; at: number }
  | { t: "and" | "or" | "not" | "(" | ")" | "end"; at: number };

const IDENT = /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/y;
const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
const OPS: CompareOp[] = ["==", "!=", "<=", ">=", "<", ">"];

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    if (c === "(" || c === ")") {
      out.push({ t: c, at: i++ });
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op) {
      out.push({ t: "op", v: op, at: i });
      i += op.length;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new PredicateError(`unterminated string`, i);
      out.push({ t: "lit", v: text.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    NUMBER.lastIndex = i;
    const num = NUMBER.exec(text);
    if (num) {
      out.push({ t: "lit", v: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    IDENT.lastIndex = i;
    const id = IDENT.exec(text);
    if (id) {
      const word = id[0];
      if (word === "and" || word === "or" || word === "not") out.push({ t: word, at: i });
      else if (word === "true" || word === "false") {
        out.push({ t: "lit", v: word === "true", at: i });
      } else if (word === "null") out.push({ t: "lit", v: null, at: i });
      else out.push({ t: "path", v: word, at: i });
      i += word.length;
      continue;
    }
    throw new PredicateError(`unexpected "${c}"`, i);
  }
  out.push({ t: "end", at: text.length });
  return out;
}

/**
 * Parses a predicate: `or` binds loosest, then `and`, then `not`; a comparison is a
 * field path, an operator and a literal (`num_subtasks > 0`, `type == 'milestone'`); a
 * path alone tests that the field is truthy.
 */
export function parsePredicate(text: string): Predicate {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const expected = (what: string): never => {
    const t = peek();
    throw new PredicateError(
      `expected ${what}, found ${t.t === "end" ? "the end" : `"${describe(t)}"`}`,
      t.at,
    );
  };
  const or = (): Predicate => {
    let left = and();
    while (peek().t === "or") {
      pos++;
      left = { kind: "or", left, right: and() };
    }
    return left;
  };
  const and = (): Predicate => {
    let left = not();
    while (peek().t === "and") {
      pos++;
      left = { kind: "and", left, right: not() };
    }
    return left;
  };
  const not = (): Predicate => {
    if (peek().t === "not") {
      pos++;
      return { kind: "not", operand: not() };
    }
    return primary();
  };
  const primary = (): Predicate => {
    const t = peek();
    if (t.t === "(") {
      pos++;
      const inner = or();
      if (peek().t !== ")") expected(`")"`);
      pos++;
      return inner;
    }
    if (t.t !== "path") return expected("a field name");
    pos++;
    const op = peek();
    if (op.t !== "op") return { kind: "path", path: t.v };
    pos++;
    const value = peek();
    if (value.t !== "lit") return expected("a number, a quoted string, true, false or null");
    pos++;
    return { kind: "compare", op: op.v, path: t.v, value: value.v };
  };
  const result = or();
  if (peek().t !== "end") expected(`"and", "or" or the end`);
  return result;
}

function describe(t: Token): string {
  switch (t.t) {
    case "path":
      return t.v;
    case "lit":
      return JSON.stringify(t.v);
    case "op":
      return t.v;
    default:
      return t.t;
  }
}

/** The field paths a predicate reads. */
export function predicatePaths(p: Predicate): string[] {
  switch (p.kind) {
    case "path":
    case "compare":
      return [p.path];
    case "not":
      return predicatePaths(p.operand);
    default:
      return [...predicatePaths(p.left), ...predicatePaths(p.right)];
  }
}

/**
 * Evaluates a predicate on a record: `true`, `false`, or `undefined` when a field it
 * reads is missing from the record (Kleene logic: `false and unknown` is false).
 */
export function evaluatePredicate(p: Predicate, record: unknown): boolean | undefined {
  switch (p.kind) {
    case "path": {
      const v = getPath(record, p.path);
      return v === undefined ? undefined : truthy(v);
    }
    case "compare": {
      const v = getPath(record, p.path);
      return v === undefined ? undefined : compare(p.op, v, p.value);
    }
    case "not": {
      const v = evaluatePredicate(p.operand, record);
      return v === undefined ? undefined : !v;
    }
    case "and": {
      const l = evaluatePredicate(p.left, record);
      if (l === false) return false;
      const r = evaluatePredicate(p.right, record);
      if (r === false) return false;
      return l === undefined || r === undefined ? undefined : true;
    }
    case "or": {
      const l = evaluatePredicate(p.left, record);
      if (l === true) return true;
      const r = evaluatePredicate(p.right, record);
      if (r === true) return true;
      return l === undefined || r === undefined ? undefined : false;
    }
  }
}

function truthy(v: unknown): boolean {
  if (v === null || v === false || v === 0 || v === 0n || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

function compare(op: CompareOp, a: unknown, b: Literal): boolean {
  if (op === "==" || op === "!=") {
    const equal = (typeof a === "bigint" && typeof b === "number")
      ? a === BigInt(Math.trunc(b)) && Number.isInteger(b)
      : a === b;
    return op === "==" ? equal : !equal;
  }
  // an order needs two numbers or two strings; anything else is simply false
  const x = typeof a === "bigint" ? Number(a) : a;
  if (
    !((typeof x === "number" && typeof b === "number") ||
      (typeof x === "string" && typeof b === "string"))
  ) return false;
  switch (op) {
    case "<":
      return x < b;
    case "<=":
      return x <= b;
    case ">":
      return x > b;
    case ">=":
      return x >= b;
  }
}
