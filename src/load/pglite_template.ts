/**
 * New PGlite databases from a template. PGlite makes a new cluster by running initdb
 * in WebAssembly: 2.5 s of CPU and a peak near 800 MB on this machine. The first new
 * database of a PGlite version leaves a clean copy of its empty cluster in the user's
 * cache (`$XDG_CACHE_HOME/restpipe`, else `~/.cache/restpipe`; `RESTPIPE_CACHE_DIR`
 * names another place, `none` turns it off); every later new database starts as a copy
 * of it (0.3 s), in a directory or in memory. Without a usable cache, initdb runs as
 * before.
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { LOCK_FILE } from "./lock.ts";
import { hash53 } from "../core/keys.ts";

/** The PGlite build the template belongs to: a cluster is only valid for its own version. */
const PGLITE_BUILD = (() => {
  const where = import.meta.resolve("@electric-sql/pglite");
  const version = where.match(/pglite[@/](\d+\.\d+\.\d+[^/]*)/)?.[1];
  return version ?? hash53(where).toString(36);
})();

/** Where templates are kept by default, or undefined when there is no cache. */
export function defaultCacheRoot(): string | undefined {
  try {
    const env = (name: string) => Deno.env.get(name);
    const own = env("RESTPIPE_CACHE_DIR");
    if (own === "none") return undefined;
    if (own) return own;
    const xdg = env("XDG_CACHE_HOME");
    if (xdg) return `${xdg}/restpipe`;
    const home = env("HOME");
    return home ? `${home}/.cache/restpipe` : undefined;
  } catch {
    return undefined; // no --allow-env
  }
}

/** Copies a directory tree (the template holds about a thousand small files). */
async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  const pending: Promise<void>[] = [];
  for await (const entry of Deno.readDir(from)) {
    const a = `${from}/${entry.name}`;
    const b = `${to}/${entry.name}`;
    if (entry.isDirectory) pending.push(copyTree(a, b));
    else if (entry.isFile) pending.push(Deno.copyFile(a, b));
  }
  await Promise.all(pending);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The template of this PGlite build (made now when missing), or undefined when the
 * cache cannot hold one. Two processes making it at once each make their own and the
 * first rename wins: a reader never sees half a template.
 */
async function template(root: string | undefined): Promise<string | undefined> {
  if (root === undefined) return undefined;
  const dir = `${root}/pglite-template-${PGLITE_BUILD}`;
  try {
    if (await exists(`${dir}/PG_VERSION`)) return dir;
    await Deno.mkdir(root, { recursive: true });
    const tmp = await Deno.makeTempDir({ dir: root, prefix: ".template-" });
    try {
      const db = await PGlite.create(`${tmp}/db`);
      await db.close();
      await Deno.rename(`${tmp}/db`, dir).catch(() => {/* made by another process */});
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    return (await exists(`${dir}/PG_VERSION`)) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the PGlite database in `dir`, starting a new one as a copy of the template
 * kept under `cacheRoot` (an existing database opens as it is).
 */
export async function openPglite(
  dir: string,
  cacheRoot: string | undefined = defaultCacheRoot(),
): Promise<PGlite> {
  if (!(await exists(`${dir}/PG_VERSION`))) {
    const from = await template(cacheRoot);
    if (from !== undefined) {
      try {
        await copyTree(from, dir);
      } catch {
        // a partial copy must not pass for a database: initdb starts afresh
        for await (const e of Deno.readDir(dir)) {
          if (e.name !== LOCK_FILE) {
            await Deno.remove(`${dir}/${e.name}`, { recursive: true }).catch(() => {});
          }
        }
      }
    }
  }
  return await PGlite.create(dir);
}

/** The template as a tarball PGlite loads into memory, kept beside it. */
async function templateDump(root: string | undefined): Promise<Blob | undefined> {
  const from = await template(root);
  if (from === undefined) return undefined;
  const file = `${from}.tar`;
  try {
    return new Blob([await Deno.readFile(file)]);
  } catch {
    // made once: a copy of the template opened and dumped uncompressed
    try {
      const copy = await Deno.makeTempDir({ dir: `${from}/..`, prefix: ".dump-" });
      try {
        await copyTree(from, `${copy}/db`);
        const source = await PGlite.create(`${copy}/db`);
        const dump = await source.dumpDataDir("none");
        await source.close();
        const bytes = new Uint8Array(await dump.arrayBuffer());
        await Deno.writeFile(`${copy}/t.tar`, bytes);
        await Deno.rename(`${copy}/t.tar`, file).catch(() => {});
        return new Blob([bytes]);
      } finally {
        await Deno.remove(copy, { recursive: true }).catch(() => {});
      }
    } catch {
      return undefined;
    }
  }
}

/** A new PGlite database in memory, from the template when there is one. */
export async function openMemoryPglite(
  cacheRoot: string | undefined = defaultCacheRoot(),
): Promise<PGlite> {
  const dump = await templateDump(cacheRoot);
  return dump ? await PGlite.create({ loadDataDir: dump }) : await PGlite.create();
}
