/**
 * `restpipe serve`: serves the embedded database to psql and other Postgres clients on loopback
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PgliteDestination } from "../../load/pglite.ts";
import { isLoopbackHost } from "../../spec/schema.ts";
import { parseArgs, stringFlag, UsageError } from "../args.ts";
import { out } from "../io.ts";
import { openDatabase, untilSignal } from "../common.ts";

const USAGE = ["serve [--db DIR | --spec <spec.yaml>] [--host 127.0.0.1] [--port 5432] [--write]"];

const FLAGS = {
  db: "value",
  spec: "value",
  host: "value",
  port: "value",
  write: "flag",
} as const;

/** `restpipe serve`. */
export const serveCommand: Command = {
  name: "serve",
  summary: "serves the embedded database to psql and other Postgres clients on loopback",
  usage: USAGE,
  flags: FLAGS,
  run: serve,
};

async function serve(argv: string[]): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  const host = stringFlag(args, "host") ?? "127.0.0.1";
  if (!isLoopbackHost(host)) {
    throw new UsageError(
      `serve: refusing --host ${host}: the server has no password, so it listens on loopback ` +
        `only (127.0.0.1, ::1); reach it from elsewhere through an SSH tunnel`,
    );
  }
  const opened = await openDatabase(args, stringFlag(args, "spec"), "serve");
  const { dbDir } = opened;
  if (!(opened.dest instanceof PgliteDestination)) {
    await opened.dest.close();
    throw new UsageError("serve is for the embedded database: connect to your server directly");
  }
  const dest = opened.dest;
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  // read-only unless --write: every transaction a client opens starts read-only
  if (!args.flags.has("write")) await dest.db.exec("set default_transaction_read_only = on");
  const port = Number(stringFlag(args, "port") ?? 5432);
  const server = new PGLiteSocketServer({ db: dest.db, host, port });
  await server.start();
  out(
    `serving ${dbDir} ${
      args.flags.has("write") ? "read-write" : "read-only"
    } on postgresql://postgres@${host}:${port}/postgres`,
  );
  out(`connect: psql -h ${host} -p ${port} -U postgres   (Ctrl-C stops)`);
  await untilSignal();
  await server.stop();
  await dest.close();
  return 0;
}
