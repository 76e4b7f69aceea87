/**
 * The PostgreSQL server of the tests: `RESTPIPE_TEST_POSTGRES_URL`, which the test
 * command (`deno task test`, scripts/test.sh) sets after starting a throwaway cluster.
 * Each test gets a database of its own.
 *
 * @module
 */
import postgres from "postgres";

/** The test server's URL, when there is one. */
export const POSTGRES_URL: string | undefined = Deno.env.get("RESTPIPE_TEST_POSTGRES_URL");

/** Tests that need the server are ignored without it (the test command always starts one). */
export const NO_POSTGRES: boolean = POSTGRES_URL === undefined;

/** A new, empty database on the test server, dropped at disposal. */
export async function freshDatabase(): Promise<
  { url: string; [Symbol.asyncDispose](): Promise<void> }
> {
  if (!POSTGRES_URL) throw new Error("RESTPIPE_TEST_POSTGRES_URL is not set");
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    [Symbol.asyncDispose]: async () => {
      const a = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
