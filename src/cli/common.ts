/**
 * What several commands share: loading a spec with its secrets redacted, the flags
 * every command reads the same way, opening the database a command names, and
 * reporting a failure with its exit code.
 *
 * @module
 */
import { loadSpec } from "../spec/load.ts";
import type { Spec } from "../spec/schema.ts";
import { defaultDbDir } from "../pipeline.ts";
import { PgliteDestination } from "../load/pglite.ts";
import type { Destination } from "../load/destination.ts";
import {
  hasPassword,
  openTarget,
  resolveTarget,
  type Target,
  targetSecrets,
} from "../load/open.ts";
import { describeUrl } from "../load/postgres.ts";
import { assertNotHeld } from "../load/lock.ts";
import { credentialsOf } from "../extract/http.ts";
import { messageOf, RestpipeError } from "../core/errors.ts";
import { EXIT, isTransient } from "../core/exit.ts";
import { type Args, stringFlag, UsageError } from "./args.ts";
import { addSecrets, err, useSecrets } from "./io.ts";

/** Loads a spec and makes its secrets (and credentials) redacted from all output. */
export async function loadSpecRedacted(
  file: string,
  options: Parameters<typeof loadSpec>[1] = {},
): Promise<Awaited<ReturnType<typeof loadSpec>>> {
  const loaded = await loadSpec(file, options);
  useSecrets([...loaded.secrets, ...credentialsOf(loaded.spec.source.auth)]);
  return loaded;
}

/** The `--port` of a dashboard: 0 (a free port) when not given. */
export function portFlag(args: Args): number {
  const value = stringFlag(args, "port");
  if (value === undefined) return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port ${value}: not a port number (0-65535)`);
  }
  if (!args.flags.has("web")) throw new UsageError("--port goes with --web");
  return port;
}

/** Resolves at the first Ctrl-C or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const stop = () => {
      for (const sig of signals) Deno.removeSignalListener(sig, stop);
      resolve();
    };
    for (const sig of signals) Deno.addSignalListener(sig, stop);
  });
}

/** The `--resources a,b` list, or undefined. */
export function resourcesFlag(args: Args): string[] | undefined {
  const value = stringFlag(args, "resources");
  return value === undefined ? undefined : value.split(",").map((s) => s.trim()).filter(Boolean);
}

/** The one spec file a command names (its usage text when it names none or several). */
export function oneSpec(args: Args, command: string, usage: string): string {
  if (args.positional.length !== 1) {
    throw new UsageError(`${command} needs one spec file\n${usage}`);
  }
  return args.positional[0];
}

/** Is this folder a database (PGlite keeps a PG_VERSION file)? */
export async function isDatabase(dir: string): Promise<boolean> {
  try {
    await Deno.stat(`${dir}/PG_VERSION`);
    return true;
  } catch {
    return false;
  }
}

/** The target of `--destination` (or `--db DIR`), with its password made secret. */
export function targetOf(args: Args, dbDir: string): Target {
  const destination = stringFlag(args, "destination");
  const target = resolveTarget(destination, dbDir);
  addSecrets(targetSecrets(target));
  if (hasPassword(destination)) {
    // restpipe redacts it, but the shell's history has it, and deno task echoes its command
    err(
      "note: the password in --destination is in your shell history, and deno task prints " +
        "its command line with it: give it as PGPASSWORD (postgresql://user@host/db), or " +
        "use --destination postgres with .dlt/secrets.toml",
    );
  }
  return target;
}

/** The one database under `.data/`, when there is exactly one. */
async function onlyDatabase(): Promise<string> {
  const found: string[] = [];
  try {
    for await (const e of Deno.readDir(".data")) {
      if (e.isDirectory && await isDatabase(`.data/${e.name}`)) found.push(`.data/${e.name}`);
    }
  } catch { /* no .data */ }
  if (found.length === 1) return found[0];
  throw new UsageError(
    found.length === 0
      ? `no database under .data/: run a pipeline first, or name a spec file or --db DIR`
      : `several databases (${found.sort().join(", ")}): name a spec file or --db DIR`,
  );
}

/** Opens the database a command names: --db, a spec's default, or the only one under .data/. */
export async function openDatabase(
  args: Args,
  specFile: string | undefined,
  purpose: string,
): Promise<{ dest: Destination; dbDir: string; spec: Spec | undefined }> {
  let dbDir = stringFlag(args, "db");
  let spec: Spec | undefined;
  if (specFile !== undefined) {
    spec = (await loadSpecRedacted(specFile, { requireVariables: false })).spec;
    dbDir ??= defaultDbDir(spec);
  }
  if (stringFlag(args, "destination") !== undefined) {
    const target = targetOf(args, dbDir ?? "");
    if (target.kind === "postgres") {
      return { dest: await openTarget(target, purpose), dbDir: describeUrl(target.url), spec };
    }
  }
  dbDir ??= await onlyDatabase();
  await assertNotHeld(dbDir);
  if (!(await isDatabase(dbDir))) {
    throw new UsageError(`no database at ${dbDir}: run a pipeline first (deno task run <spec>)`);
  }
  return { dest: await PgliteDestination.open(dbDir, purpose), dbDir, spec };
}

/** Says why a command failed, in one message a user can act on; returns the exit code. */
export function reportFailure(e: unknown): number {
  if (e instanceof RestpipeError) {
    err(e.report());
    return e.exitCode;
  }
  err(`error: ${messageOf(e)}`);
  return isTransient(e) ? EXIT.tempfail : EXIT.failed;
}
