/**
 * Choosing a destination: `--destination postgresql://…`, `--destination postgres`
 * (credentials the dlt way), or a PGlite directory.
 *
 * @module
 */
import { RestpipeError } from "../core/errors.ts";
import { parse as parseToml } from "smol-toml";
import type { Destination } from "./destination.ts";
import { PgliteDestination } from "./pglite.ts";
import { PostgresDestination } from "./postgres.ts";

/** Where a command's data lives. */
export type Target =
  | { kind: "pglite"; dir: string }
  | { kind: "postgres"; url: string };

/** A destination that cannot be resolved (exit code 2). */
export class DestinationError extends RestpipeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

/**
 * Resolves `--destination`: a `postgresql://` (or `postgres://`) URL, or `postgres`
 * with the URL from `DESTINATION__POSTGRES__CREDENTIALS` or `.dlt/secrets.toml`
 * `[destination.postgres] credentials` (a URL, or a table of `host`, `port`,
 * `username`, `password`, `database`), as dlt reads them.
 */
export function resolveTarget(
  destination: string | undefined,
  dbDir: string,
  configDir = Deno.cwd(),
): Target {
  if (destination === undefined || destination === "pglite") return { kind: "pglite", dir: dbDir };
  if (/^postgres(ql)?:\/\//i.test(destination)) return { kind: "postgres", url: destination };
  if (destination !== "postgres" && destination !== "postgresql") {
    throw new DestinationError(
      `--destination ${destination.replace(/:[^:@/]*@/, ":***@")}: expected ` +
        `postgresql://USER:PASS@HOST:PORT/DB, postgres or pglite`,
    );
  }
  const env = Deno.env.get("DESTINATION__POSTGRES__CREDENTIALS");
  if (env) return { kind: "postgres", url: env };
  const fromToml = credentialsFromToml(`${configDir}/.dlt/secrets.toml`);
  if (fromToml) return { kind: "postgres", url: fromToml };
  throw new DestinationError(
    "--destination postgres: no credentials; set DESTINATION__POSTGRES__CREDENTIALS to " +
      "postgresql://USER:PASS@HOST:PORT/DB, or credentials under [destination.postgres] in " +
      ".dlt/secrets.toml",
  );
}

function credentialsFromToml(file: string): string | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return undefined;
  }
  let data: Record<string, unknown>;
  try {
    data = parseToml(text) as Record<string, unknown>;
  } catch {
    return undefined; // reported with its position when the spec is read
  }
  const section = ((data.destination as Record<string, unknown> | undefined)?.postgres ??
    undefined) as Record<string, unknown> | undefined;
  const c = section?.credentials;
  if (typeof c === "string") return c;
  if (typeof c === "object" && c !== null) {
    const t = c as Record<string, unknown>;
    const user = encodeURIComponent(String(t.username ?? "postgres"));
    const pass = t.password === undefined ? "" : `:${encodeURIComponent(String(t.password))}`;
    const port = t.port === undefined ? "" : `:${t.port}`;
    return `postgresql://${user}${pass}@${t.host ?? "localhost"}${port}/${t.database ?? ""}`;
  }
  return undefined;
}

/**
 * The secrets of a target (a server's password, in the URL or in `PGPASSWORD`, which
 * the connection uses when the URL has none), to redact from output.
 */
export function targetSecrets(target: Target): string[] {
  if (target.kind !== "postgres") return [];
  const env = Deno.env.get("PGPASSWORD");
  try {
    const u = new URL(target.url);
    const own = u.password ? [u.password, decodeURIComponent(u.password)] : [];
    return env ? [...own, env] : own;
  } catch {
    return env ? [env] : [];
  }
}

/** Does this `--destination` value carry a password in its URL? */
export function hasPassword(destination: string | undefined): boolean {
  if (destination === undefined || !/^postgres(ql)?:\/\//i.test(destination)) return false;
  try {
    return new URL(destination).password !== "";
  } catch {
    return false;
  }
}

/** Opens a target; `purpose` names the holder to another command. */
export function openTarget(target: Target, purpose: string): Promise<Destination> {
  return target.kind === "pglite"
    ? PgliteDestination.open(target.dir, purpose)
    : PostgresDestination.open(target.url, purpose);
}
