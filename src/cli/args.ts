/**
 * Command-line arguments: `--name value`, `--name=value`, `--flag`, positionals.
 *
 * @module
 */
import { RestpipeError } from "../core/errors.ts";

/** A usage mistake: exit code 2. */
export class UsageError extends RestpipeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

/** Parsed command-line flags and positional arguments. */
export interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

/** Parses `--name value`, `--name=value` and `--flag`, checking names against `known`. */
export function parseArgs(argv: string[], known: Record<string, "value" | "flag">): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    const kind = known[name];
    if (kind === undefined) {
      throw new UsageError(
        `unknown option --${name}; expected ${Object.keys(known).map((k) => `--${k}`).join(", ")}`,
      );
    }
    if (kind === "flag") flags.set(name, true);
    else {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith("--")) {
        throw new UsageError(`--${name} needs a value`);
      }
      flags.set(name, value);
    }
  }
  return { positional, flags };
}

/** A flag's string value, or undefined. */
export function stringFlag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : undefined;
}
