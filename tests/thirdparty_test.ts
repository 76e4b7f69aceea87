/**
 * A REST server nobody here wrote: json-server 0.17 (from npm, run by Deno's Node
 * compatibility on 127.0.0.1), loaded by a spec written only in YAML. Row counts and
 * values equal the server's data; after edits and deletions a second run behaves as
 * each disposition says.
 */
import assert from "node:assert/strict";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { specOf } from "./hostile.ts";
import { ROOT, tempDir } from "./helpers.ts";

/**
 * json-server, as tests/imports.json pins it (a test tool: run in its own process with the
 * tests' lock file, never imported).
 */
const JSON_SERVER = (JSON.parse(await Deno.readTextFile(`${ROOT}tests/imports.json`)) as {
  imports: Record<string, string>;
}).imports["json-server"];

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts json-server on a copy of `db`; resolves once it answers. */
async function startJsonServer(dir: string, db: unknown) {
  const file = `${dir}/db.json`;
  await Deno.writeTextFile(file, JSON.stringify(db));
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--lock=${ROOT}tests/deno.lock`,
      JSON_SERVER,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      file,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      const r = await fetch(`${url}/db`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      if (i > 600) throw new Error("json-server did not start within a minute");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.stderr.cancel();
      await child.status;
    },
  };
}

const POSTS = Array.from({ length: 27 }, (_, i) => ({
  id: i + 1,
  title: `Post ${i + 1} ✓`,
  views: i * 10,
  tags: i % 3 === 0 ? ["news", "tech"] : [],
  author: { name: `Author ${i % 4}`, email: `a${i % 4}@example.com` },
}));
const COMMENTS = POSTS.flatMap((p) =>
  p.id % 2 === 0 ? [{ id: p.id * 10, postId: p.id, body: `on ${p.id}` }] : []
);

Deno.test("json-server: a YAML-only spec loads its data exactly, and a second run follows the dispositions", async () => {
  await using dir = await tempDir();
  await using server = await startJsonServer(dir.path, { posts: POSTS, comments: COMMENTS });
  const spec = specOf(`pipeline: blog
dataset: blog_data
source:
  base_url: "${server.url}"
  paginator:
    type: offset
    limit: 10
    offset_param: _start
    end_param: _end
    total_header: X-Total-Count
defaults: { primary_key: id }
resources:
  posts:
    path: /posts
    write_disposition: replace
  comments:
    path: /posts/{posts.id}/comments
    parent: posts
    write_disposition: merge
`);
  const dest = await PgliteDestination.open();
  const rows = async (table: string) =>
    (await dest.query<Record<string, unknown>>(`select * from blog_data.${table} order by id`))
      .rows;
  const truth = async (path: string) =>
    (await (await fetch(`${server.url}${path}`)).json()) as {
      id: number;
    }[];

  await runPipeline(spec, { destination: dest });
  const posts = await rows("posts");
  assert.equal(posts.length, POSTS.length);
  for (const [i, p] of posts.entries()) {
    assert.equal(Number(p.id), POSTS[i].id);
    assert.equal(p.title, POSTS[i].title);
    assert.equal(Number(p.views), POSTS[i].views);
    assert.equal(p.author__name, POSTS[i].author.name);
  }
  const tags = await dest.query<{ n: number }>(
    `select count(*)::int as n from blog_data.posts__tags`,
  );
  assert.equal(tags.rows[0].n, POSTS.reduce((n, p) => n + p.tags.length, 0));
  assert.deepEqual((await rows("comments")).map((c) => Number(c.id)), COMMENTS.map((c) => c.id));

  // edits through json-server's own API: a title, a deletion (with its comments), an addition
  const send = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await r.body?.cancel();
    assert.equal(r.ok, true, `${method} ${path}: ${r.status}`);
  };
  await send("PATCH", "/posts/3", { title: "Edited" });
  await send("DELETE", "/posts/4");
  await send("POST", "/posts", {
    id: 100,
    title: "New",
    views: 1,
    tags: [],
    author: { name: "N" },
  });
  await send("POST", "/comments", { id: 1000, postId: 100, body: "first" });
  await send("PATCH", "/comments/20", { body: "edited comment" });

  await runPipeline(spec, { destination: dest });
  // replace: the table is exactly the server's posts now
  const after = await rows("posts");
  assert.deepEqual(after.map((p) => Number(p.id)), (await truth("/posts")).map((p) => p.id));
  assert.equal(after.find((p) => Number(p.id) === 3)!.title, "Edited");
  // merge: comments are upserted on their key; the deleted post's comment goes with its
  // parent (a child resource's rows follow their parent's deletion)
  const comments = await rows("comments");
  assert.deepEqual(comments.map((c) => Number(c.id)), (await truth("/comments")).map((c) => c.id));
  assert.equal(comments.find((c) => Number(c.id) === 20)!.body, "edited comment");
  await dest.close();
});
