/**
 * `restpipe sql`: runs one SQL statement on the loaded data, read-only unless --write
 *
 * @module
 */
import { type Command, usageText } from "../command.ts";
import { parseArgs, stringFlag, UsageError } from "../args.ts";
import { formatTable } from "../format.ts";
import { out } from "../io.ts";
import { openDatabase } from "../common.ts";

const USAGE = [
  'sql [<spec.yaml>] "<query>" [--db DIR | --destination URL|postgres] [--spec <spec.yaml>]\n' +
  "               [--json] [--write]",
];

const FLAGS = {
  db: "value",
  destination: "value",
  spec: "value",
  json: "flag",
  write: "flag",
} as const;

/** `restpipe sql`. */
export const sqlCommand: Command = {
  name: "sql",
  summary: "runs one SQL statement on the loaded data, read-only unless --write",
  usage: USAGE,
  flags: FLAGS,
  run: sql,
};

async function sql(argv: string[]): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  // a spec may come as --spec or, as show takes it, as a YAML file beside the query
  const named = args.positional.length === 2
    ? args.positional.find((a) => /\.ya?ml$/.test(a))
    : undefined;
  const queries = args.positional.filter((a) => a !== named);
  if (queries.length !== 1) {
    throw new UsageError(`sql needs one query\n${usageText(USAGE)}`);
  }
  if (named !== undefined && stringFlag(args, "spec") !== undefined) {
    throw new UsageError("sql takes one spec: as a file name or as --spec, not both");
  }
  const { dest } = await openDatabase(args, named ?? stringFlag(args, "spec"), "sql");
  const write = args.flags.has("write");
  try {
    // read-only unless --write: the query runs in a read-only transaction, rolled back
    const result = await dest.query(queries[0], [], { write });
    if (args.flags.has("json")) {
      out(JSON.stringify(result.rows, null, 2));
    } else if (result.fields.length > 0) {
      const headers = result.fields.map((f) => f.name);
      out(formatTable(headers, result.rows.map((r) => headers.map((h) => r[h]))));
      out(`(${result.rows.length} row${result.rows.length === 1 ? "" : "s"})`);
    } else {
      out(`ok (${result.affectedRows ?? 0} rows affected)`);
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const hint = !write && /read-only transaction/.test(message)
      ? "; sql is read-only unless --write is given"
      : "";
    throw new UsageError(`sql: ${message}${hint}`);
  } finally {
    await dest.close();
  }
  return 0;
}
