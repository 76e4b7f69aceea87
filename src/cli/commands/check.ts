/**
 * `restpipe check`: validates a spec (and its fit to an OpenAPI description) without a request
 *
 * @module
 */
import { type Command, usageText } from "../command.ts";
import { buildPlan } from "../../plan/plan.ts";
import { parseArgs, stringFlag } from "../args.ts";
import { formatCheck } from "../format.ts";
import { out } from "../io.ts";
import { loadSpecRedacted, oneSpec } from "../common.ts";
import { readOpenApi } from "./init.ts";

const USAGE = ["check <spec.yaml> [--openapi <file>] [--no-secrets]"];

const FLAGS = { openapi: "value", "no-secrets": "flag" } as const;

/** `restpipe check`. */
export const checkCommand: Command = {
  name: "check",
  summary: "validates a spec (and its fit to an OpenAPI description) without a request",
  usage: USAGE,
  flags: FLAGS,
  run: check,
};

async function check(argv: string[]): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  const file = oneSpec(args, "check", usageText(USAGE));
  const openapiFile = stringFlag(args, "openapi");
  const openapi = openapiFile === undefined ? undefined : await readOpenApi(openapiFile);
  // --no-secrets: everything but the secrets (for CI): an unset ${VAR} is listed, not an error
  const withoutSecrets = args.flags.has("no-secrets");
  const loaded = await loadSpecRedacted(file, { openapi, requireVariables: !withoutSecrets });
  const unset = [...new Set(loaded.missing.map((m) => m.variable))];
  out(formatCheck(loaded.file, loaded.spec, buildPlan(loaded.spec), loaded.variables, unset));
  if (openapiFile !== undefined) {
    out(
      `\nchecked against ${openapiFile}: every resource's path has a GET, every param is ` +
        `declared and every required one given, every field is one the API returns`,
    );
  }
  return 0;
}
