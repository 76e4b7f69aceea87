/**
 * The command line: `run`, `plan`, `check`, `init`, `show`, `sql` and `serve`, each a
 * module of `commands/`, dispatched from one table. `restpipe <command> --help` shows a
 * command's usage. Exit codes: 0 success, 1 a runtime failure retrying will not fix, 2 bad
 * usage or config, 75 a temporary failure (see `core/exit.ts`).
 *
 * @module
 */
import { helpText, usageText } from "./command.ts";
import { COMMANDS } from "./commands/mod.ts";
import { UsageError } from "./args.ts";
import { out } from "./io.ts";
import { reportFailure } from "./common.ts";
import config from "../../deno.json" with { type: "json" };

export { parseArgs, UsageError } from "./args.ts";

/** The usage text of every command. */
export function usage(): string {
  return usageText([
    ...[...COMMANDS.values()].flatMap((c) => c.usage),
    "<command> --help",
    "--version",
  ]);
}

/** The version line: restpipe's, and the Deno and V8 it runs on. */
export function versionText(): string {
  return `restpipe ${config.version} (deno ${Deno.version.deno}, v8 ${Deno.version.v8})`;
}

/** Runs a command; returns the exit code. Errors a user can fix are one-line messages. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      const command = name === "help" ? COMMANDS.get(rest[0] ?? "") : undefined;
      out(command ? helpText(command) : usage());
      return name === undefined ? 2 : 0;
    }
    if (name === "--version" || name === "version") {
      out(versionText());
      return 0;
    }
    const command = COMMANDS.get(name);
    if (!command) throw new UsageError(`unknown command "${name}"\n${usage()}`);
    if (rest.includes("--help") || rest.includes("-h")) {
      out(helpText(command));
      return 0;
    }
    return await command.run(rest);
  } catch (e) {
    return reportFailure(e);
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  if (Deno.env.get("OTEL_DENO") === "true") {
    // with OpenTelemetry on, Deno.exit() while its exporter shuts down hung at times (seen
    // in about half of the runs of the OTLP tests): the process ends by itself instead,
    // once its exporter has sent what it holds
    Deno.exitCode = code;
  } else {
    Deno.exit(code);
  }
}
