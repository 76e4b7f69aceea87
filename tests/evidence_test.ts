/**
 * Nothing is deleted on incomplete evidence (issue 9, points 1 and 2): skipped or
 * failed listings never empty, replace or cascade-delete the rows they would have
 * covered, and cursors only move (or reset) on complete evidence.
 */
import assert from "node:assert/strict";
import { RunError, runPipeline } from "../src/pipeline.ts";
import type { Destination } from "../src/load/destination.ts";
import { FAST_RETRY, json, serveHostile, specOf } from "./hostile.ts";
import { runCli, tempDir, testEachDestination } from "./helpers.ts";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";

interface Task {
  id: string;
  project: string;
  name: string;
  modified_at: string;
}

/** A small workspace → project → task → story API whose answers a test can spoil. */
function smallApi() {
  const projects: Record<string, string[]> = { w1: ["p1", "p2"], w2: ["p3"] };
  const tasks: Task[] = [];
  let clock = Date.parse("2024-01-01T00:00:00Z");
  const stamp = () => new Date(clock += 60_000).toISOString();
  for (const p of ["p1", "p2", "p3"]) {
    for (let i = 1; i <= 3; i++) {
      tasks.push({ id: `${p}t${i}`, project: p, name: `task ${i}`, modified_at: stamp() });
    }
  }
  const stories: Record<string, string[]> = {};
  for (const t of tasks) stories[t.id] = [`${t.id}s1`];
  /** Paths (with query) that answer 403. */
  const denied = new Set<string>();
  /** Tasks asked for by key (`GET /tasks/{id}`) that answer with this status (else 404). */
  const byKey = new Map<string, number>();
  const server = serveHostile((url) => {
    const key = url.pathname + url.search;
    for (const d of denied) {
      if (key.startsWith(d)) return json({ errors: [{ message: "no" }] }, 403);
    }
    const one = url.pathname.match(/^\/tasks\/([^/]+)$/);
    if (one && byKey.has(one[1])) {
      const status = byKey.get(one[1])!;
      return status === 200
        ? json({ data: { id: one[1] } })
        : json({ errors: [{ message: `status ${status}` }] }, status);
    }
    if (url.pathname === "/workspaces") {
      return json({ data: Object.keys(projects).map((id) => ({ id })) });
    }
    if (url.pathname === "/projects") {
      const w = url.searchParams.get("workspace")!;
      return json({ data: (projects[w] ?? []).map((id) => ({ id, workspace: w })) });
    }
    if (url.pathname === "/tasks") {
      const p = url.searchParams.get("project")!;
      const since = url.searchParams.get("modified_since");
      const keysOnly = url.searchParams.get("fields") === "id";
      const list = tasks.filter((t) =>
        t.project === p && (keysOnly || since === null || t.modified_at >= since)
      );
      return json({ data: keysOnly ? list.map((t) => ({ id: t.id })) : list });
    }
    const m = url.pathname.match(/^\/tasks\/([^/]+)\/stories$/);
    if (m) return json({ data: (stories[m[1]] ?? []).map((id) => ({ id, task: m[1] })) });
    return json({ errors: [{ message: "not found" }] }, 404);
  });
  return { server, projects, tasks, stories, denied, byKey, stamp };
}

function specFor(url: string, options: { reconcile?: boolean | string } = {}) {
  return specOf(`pipeline: t
dataset: t_data
source:
  base_url: ${url}
  records: data
  fields_param: fields
  on_status: { 403: skip, 404: skip }
${FAST_RETRY}defaults:
  primary_key: id
resources:
  workspaces:
    path: /workspaces
    write_disposition: replace
  projects:
    path: /projects
    parent: workspaces
    params: { workspace: "{workspaces.id}" }
    write_disposition: replace
  tasks:
    path: /tasks
    parent: projects
    params: { project: "{projects.id}", modified_since: "{incremental.start}" }
    incremental: { cursor: modified_at, initial: "2000-01-01T00:00:00.000Z" }
    write_disposition: merge
    reconcile: ${options.reconcile ?? false}
  stories:
    path: /tasks/{tasks.id}/stories
    parent: tasks
    write_disposition: merge
`);
}

async function ids(dest: Destination, table: string): Promise<string[]> {
  const r = await dest.query<{ id: string }>(`select id from t_data.${table} order by id`);
  return r.rows.map((x) => x.id);
}

async function cursors(dest: Destination): Promise<Record<string, Record<string, string>>> {
  const state = await dest.readState("t_data");
  return (state.incremental ?? {}) as Record<string, Record<string, string>>;
}

testEachDestination(
  "a skipped listing keeps the replace rows of its parent, and the incremental rows below them",
  async (dest) => {
    const api = smallApi();
    await using _ = api.server;
    const spec = specFor(api.server.url);
    await runPipeline(spec, { destination: dest });
    const before = {
      projects: await ids(dest, "projects"),
      tasks: await ids(dest, "tasks"),
      stories: await ids(dest, "stories"),
    };
    assert.equal(before.tasks.length, 9);
    // w2's project listing answers 403: its project p3 and p3's tasks must stay
    api.denied.add("/projects?workspace=w2");
    const result = await runPipeline(spec, { destination: dest });
    assert.deepEqual(await ids(dest, "projects"), before.projects);
    assert.deepEqual(await ids(dest, "tasks"), before.tasks);
    assert.deepEqual(await ids(dest, "stories"), before.stories);
    const projects = result.resources.find((r) => r.resource === "projects")!;
    assert.equal(projects.incomplete, true);
    assert.deepEqual(projects.skipped.map((s) => [s.status, s.count]), [[403, 1]]);
    // w1's listing was complete: a project removed there is deleted, with its tasks
    api.denied.clear();
    api.projects.w1 = ["p1"];
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(await ids(dest, "projects"), ["p1", "p3"]);
    assert.deepEqual(
      (await ids(dest, "tasks")).filter((t) => t.startsWith("p2")),
      [],
      "tasks of a project a complete listing no longer has are deleted",
    );
  },
);

testEachDestination(
  "a replace child keeps the rows of a parent whose own listing was skipped",
  async (dest) => {
    const api = smallApi();
    await using _ = api.server;
    const spec = specOf(`pipeline: t
dataset: t_data
source:
  base_url: ${api.server.url}
  records: data
  on_status: { 403: skip }
${FAST_RETRY}defaults: { primary_key: id, write_disposition: replace }
resources:
  workspaces: { path: /workspaces }
  projects:
    path: /projects
    parent: workspaces
    params: { workspace: "{workspaces.id}" }
`);
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(await ids(dest, "projects"), ["p1", "p2", "p3"]);
    api.denied.add("/projects?workspace=w1");
    api.projects.w2 = ["p3", "p4"];
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(await ids(dest, "projects"), ["p1", "p2", "p3", "p4"]);
  },
);

testEachDestination(
  "a skipped child listing keeps its incremental parent's cursor, so the next healthy run catches up",
  async (dest) => {
    const api = smallApi();
    await using _ = api.server;
    const spec = specFor(api.server.url);
    await runPipeline(spec, { destination: dest });
    const stored = (await cursors(dest)).tasks.p1;
    // p1t1 changes and gets a story, but its story listing answers 403 this time
    const task = api.tasks.find((t) => t.id === "p1t1")!;
    task.modified_at = api.stamp();
    api.stories.p1t1.push("p1t1s2");
    api.denied.add("/tasks/p1t1/stories");
    await runPipeline(spec, { destination: dest });
    assert.equal((await cursors(dest)).tasks.p1, stored, "p1's cursor did not move");
    assert.deepEqual((await ids(dest, "stories")).filter((s) => s.startsWith("p1t1")), ["p1t1s1"]);
    api.denied.clear();
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(
      (await ids(dest, "stories")).filter((s) => s.startsWith("p1t1")),
      ["p1t1s1", "p1t1s2"],
    );
    assert.equal((await cursors(dest)).tasks.p1, task.modified_at);
  },
);

testEachDestination(
  "the cursor of a partition whose rows were deleted is reset: the rows come back with their parent",
  async (dest) => {
    const api = smallApi();
    await using _ = api.server;
    const spec = specFor(api.server.url);
    await runPipeline(spec, { destination: dest });
    assert.equal(typeof (await cursors(dest)).tasks.p2, "string");
    // p2 leaves w1 (a complete listing): its tasks go, and so does its cursor
    api.projects.w1 = ["p1"];
    await runPipeline(spec, { destination: dest });
    assert.deepEqual((await ids(dest, "tasks")).filter((t) => t.startsWith("p2")), []);
    assert.equal((await cursors(dest)).tasks.p2, undefined);
    // p2 comes back unchanged: all its tasks are fetched again
    api.projects.w1 = ["p1", "p2"];
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(
      (await ids(dest, "tasks")).filter((t) => t.startsWith("p2")),
      ["p2t1", "p2t2", "p2t3"],
    );
  },
);

testEachDestination("reconcile deletes nothing when a key listing was skipped", async (dest) => {
  const api = smallApi();
  await using _ = api.server;
  const spec = specFor(api.server.url, { reconcile: true });
  await runPipeline(spec, { destination: dest });
  api.tasks.splice(api.tasks.findIndex((t) => t.id === "p1t2"), 1);
  api.denied.add("/tasks?project=p1&fields=id");
  await runPipeline(spec, { destination: dest });
  assert.equal((await ids(dest, "tasks")).includes("p1t2"), true, "kept: evidence incomplete");
  api.denied.clear();
  await runPipeline(spec, { destination: dest });
  assert.equal((await ids(dest, "tasks")).includes("p1t2"), false, "deleted on a full listing");
});

testEachDestination(
  "reconcile.verify deletes only what the API says is gone (404): a record it still returns, or a request that keeps failing, keeps its row",
  async (dest) => {
    const api = smallApi();
    await using _ = api.server;
    const spec = specFor(api.server.url, { reconcile: `{ verify: "/tasks/{record.id}" }` });
    await runPipeline(spec, { destination: dest });
    // three tasks leave every listing: one still exists, one is gone, one's request fails
    for (const id of ["p1t1", "p1t2", "p1t3"]) {
      api.tasks.splice(api.tasks.findIndex((t) => t.id === id), 1);
    }
    api.byKey.set("p1t1", 200);
    api.byKey.set("p1t3", 500);
    const run = await runPipeline(spec, { destination: dest });
    const tasks = run.resources.find((r) => r.resource === "tasks")!;
    assert.deepEqual(tasks.verified, { asked: 3, gone: 1, kept: 1, unanswered: 1 });
    assert.equal(tasks.deleted, 1);
    const left = await ids(dest, "tasks");
    assert.deepEqual(left.filter((id) => id.startsWith("p1")), ["p1t1", "p1t3"]);
    // the gone task's stories went with it
    assert.equal((await ids(dest, "stories")).includes("p1t2s1"), false);
    // the requests asked for the key only
    const asked = api.server.requests.map((r) => r.url).filter((u) =>
      /^\/tasks\/p1t\d$/.test(u.pathname)
    );
    assert.equal(asked.length >= 3, true);
    assert.equal(asked.every((u) => u.searchParams.get("fields") === "id"), true);
  },
);

testEachDestination(
  "a top-level listing that is skipped or fails fails the run, naming the URL and hinting at base_url",
  async (dest) => {
    const api = smallApi();
    await using _ = api.server;
    const spec = specFor(api.server.url);
    await runPipeline(spec, { destination: dest });
    api.denied.add("/workspaces");
    await assert.rejects(
      () => runPipeline(spec, { destination: dest }),
      (e: Error) => {
        assert.equal(e instanceof RunError, true);
        assert.match(e.message, /GET http:\/\/127\.0\.0\.1:\d+\/workspaces failed: HTTP 403/);
        assert.match(
          e.message,
          /hint: check the base URL, http:\/\/127\.0\.0\.1:\d+ \(source\.base_url\)/,
        );
        return true;
      },
    );
    assert.equal((await ids(dest, "tasks")).length, 9);
    assert.equal((await ids(dest, "workspaces")).length, 2);
  },
);

Deno.test("asana.yaml with a mistyped ASANA_BASE_URL exits 1, names the URL without the token, and keeps every row", async () => {
  await using dir = await tempDir();
  const fake = await startFakeAsana({ seed: 3, tasksPerProject: 2 });
  try {
    const db = `${dir.path}/db`;
    const env = { ASANA_BASE_URL: fake.baseUrl, ASANA_ACCESS_TOKEN: fake.token };
    const first = await runCli(["run", "pipelines/asana.yaml", "--db", db, "--quiet"], env);
    assert.equal(first.code, 0, first.stderr);
    const count = async () => {
      const r = await runCli([
        "sql",
        "select count(*)::int as n from asana_data.tasks",
        "--db",
        db,
      ]);
      return r.stdout;
    };
    const before = await count();
    const typo = { ...env, ASANA_BASE_URL: `${fake.baseUrl}/api/1.1` };
    const bad = await runCli(["run", "pipelines/asana.yaml", "--db", db, "--quiet"], typo);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /api\/1\.1\/workspaces/);
    assert.match(bad.stderr, /base_url/);
    assert.equal(bad.stderr.includes(fake.token), false);
    assert.equal(await count(), before);
  } finally {
    await fake.close();
  }
});
