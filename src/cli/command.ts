/**
 * What a command of the command line is: its name, what it does, its usage and flags,
 * and how it runs. The dispatch table (`commands/mod.ts`) lists every command once,
 * and `--help` and the usage text are made from it.
 *
 * @module
 */

/** One command of the command line. */
export interface Command {
  /** The word after `restpipe`. */
  readonly name: string;
  /** One line: what it does. */
  readonly summary: string;
  /** Its usage lines, each without the leading `restpipe `. */
  readonly usage: readonly string[];
  /** The flags it takes: `value` flags take an argument, `flag`s do not. */
  readonly flags: Readonly<Record<string, "value" | "flag">>;
  /** Runs it on the arguments after its name; resolves with the exit code. */
  run(argv: string[]): Promise<number>;
  /** Lines printed after the options in `--help` (exit codes, say). */
  notes?: string;
}

/** Usage lines as printed: `usage:`, then each line after `restpipe `. */
export function usageText(lines: readonly string[]): string {
  return `usage:\n${lines.map((l) => `  restpipe ${l}`).join("\n")}`;
}

/** A command's `--help`: its usage, what it does, and its flags. */
export function helpText(command: Command): string {
  const flags = Object.entries(command.flags)
    .map(([name, kind]) => `  --${name}${kind === "value" ? " <value>" : ""}`);
  return `${usageText(command.usage)}\n\n${command.summary}\n\noptions:\n${
    flags.length > 0 ? flags.join("\n") : "  (none)"
  }\n  --help${command.notes ? `\n\n${command.notes}` : ""}`;
}
