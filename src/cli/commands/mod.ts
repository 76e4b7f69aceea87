/**
 * The dispatch table: every command of the command line, in the order `--help` lists
 * them.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { runCommand } from "./run.ts";
import { planCommand } from "./plan.ts";
import { checkCommand } from "./check.ts";
import { initCommand } from "./init.ts";
import { showCommand } from "./show.ts";
import { sqlCommand } from "./sql.ts";
import { serveCommand } from "./serve.ts";
import { scheduleCommand, workerCommand } from "./fleet.ts";

/** Every command, by name, in the order the usage text lists them. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [
    runCommand,
    planCommand,
    checkCommand,
    initCommand,
    showCommand,
    sqlCommand,
    serveCommand,
    workerCommand,
    scheduleCommand,
  ].map((c) => [c.name, c]),
);
