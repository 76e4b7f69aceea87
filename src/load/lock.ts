/**
 * One process at a time per database directory: an exclusive OS lock (`flock`) on a
 * file inside it, which the kernel releases when the holder exits, even when killed.
 * The file names the holder, so that a refused command can say who it is.
 *
 * @module
 */
import { RestpipeError } from "../core/errors.ts";

/** The lock file inside a database directory. */
export const LOCK_FILE = "restpipe.lock";

/** Who holds a database. */
export interface LockHolder {
  pid: number;
  /** What it is doing: `run pipelines/shop.yaml`, `serve`, `show`… */
  purpose: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** The database is held by another command. Exit code 75: try again when it ends. */
export class DatabaseLockedError extends RestpipeError {
  /** Who holds it, when the lock file says. */
  readonly holder: LockHolder | undefined;
  /** Creates the error. */
  constructor(what: string, holder: LockHolder | undefined, _purpose?: string) {
    const who = holder
      ? `restpipe ${holder.purpose} (pid ${holder.pid}, since ${holder.since})`
      : "another restpipe process";
    super(`${what} is in use by ${who}; one run at a time: try again when it ends`, {
      exitCode: 75,
      prefix: "refused: ",
    });
    this.holder = holder;
  }
}

/** `--db` names something that is not a usable database directory. Exit code 2. */
export class DatabaseDirError extends RestpipeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

/** A held lock; `release()` gives it up. */
export interface DirLock {
  release(): void;
}

/**
 * Checks that `dir` can hold a restpipe database: absent (it is created), empty, or a
 * database already; not a file, not read-only, not some other folder's contents.
 */
export async function checkDatabaseDir(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new DatabaseDirError(`--db ${dir}: cannot be read (${errorText(e)})`);
  }
  if (!info.isDirectory) {
    throw new DatabaseDirError(`--db ${dir}: is a file, not a database directory`);
  }
  if (info.mode !== null && (info.mode & 0o222) === 0) {
    throw new DatabaseDirError(`--db ${dir}: the directory is read-only`);
  }
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  const others = names.filter((n) => n !== LOCK_FILE);
  if (others.length > 0 && !names.includes("PG_VERSION")) {
    throw new DatabaseDirError(
      `--db ${dir}: holds other files (${others.slice(0, 3).join(", ")}${
        others.length > 3 ? ", …" : ""
      }) and is not a restpipe database; name an empty or new directory`,
    );
  }
}

/** Takes the directory's lock at once, or throws {@linkcode DatabaseLockedError}. */
export async function lockDatabaseDir(dir: string, purpose: string): Promise<DirLock> {
  const path = `${dir}/${LOCK_FILE}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied || /read-only/i.test(String(e))) {
      throw new DatabaseDirError(`--db ${dir}: the directory is read-only`);
    }
    throw e;
  }
  await holdOrThrow(file, dir);
  const holder: LockHolder = { pid: Deno.pid, purpose, since: new Date().toISOString() };
  await file.truncate(0);
  await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const x = JSON.parse(await Deno.readTextFile(path));
    if (typeof x?.pid === "number" && typeof x?.purpose === "string") return x as LockHolder;
  } catch { /* being written, or not ours */ }
  return undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Throws {@linkcode DatabaseLockedError} when a command holds `dir` now. */
export async function assertNotHeld(dir: string): Promise<void> {
  const path = `${dir}/${LOCK_FILE}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch {
    return; // no lock file: nobody has held it
  }
  await holdOrThrow(file, dir);
  await file.unlock();
  file.close();
}

/** Takes the lock of an open lock file, or closes it and says who holds it. */
async function holdOrThrow(file: Deno.FsFile, dir: string): Promise<void> {
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) throw new DatabaseLockedError(dir, await readHolder(`${dir}/${LOCK_FILE}`));
}
