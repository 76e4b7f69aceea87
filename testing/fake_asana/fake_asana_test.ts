import assert from "node:assert/strict";
import { type FakeAsana, startFakeAsana } from "./mod.ts";

async function withFake(
  fn: (
    fake: FakeAsana,
    get: (path: string, token?: string | null) => Promise<[number, Record<string, unknown>]>,
  ) => Promise<void>,
  options = {},
) {
  const fake = await startFakeAsana(options);
  const get = async (
    path: string,
    token: string | null = fake.token,
  ): Promise<[number, Record<string, unknown>]> => {
    const headers: Record<string, string> = token === null
      ? {}
      : { authorization: `Bearer ${token}` };
    const r = await fetch(`${fake.baseUrl}${path}`, { headers });
    return [r.status, await r.json()];
  };
  try {
    await fn(fake, get);
  } finally {
    await fake.close();
  }
}

const message = (body: Record<string, unknown>) =>
  (body.errors as { message: string }[])[0].message;

Deno.test("fake: 401 Not Authorized without the token or with a wrong one", () =>
  withFake(async (_f, get) => {
    for (const token of [null, "junk"]) {
      const [status, body] = await get("/workspaces", token);
      assert.equal(status, 401);
      assert.equal(message(body), "Not Authorized");
      assert.match((body.errors as { help: string }[])[0].help, /developers\.asana\.com/);
    }
  }));

Deno.test("fake: listings are compact; next_page only with limit, null on the last page", () =>
  withFake(async (fake, get) => {
    const [, plain] = await get("/workspaces");
    assert.equal("next_page" in plain, false);
    assert.deepEqual(Object.keys((plain.data as object[])[0]), ["gid", "resource_type", "name"]);
    const project = fake.data.all("project")[0].gid;
    const [, tasks] = await get(`/tasks?project=${project}&limit=100`);
    assert.deepEqual(Object.keys((tasks.data as object[])[0]), [
      "gid",
      "resource_type",
      "name",
      "resource_subtype",
    ]);
    assert.equal(tasks.next_page, null);
    const [, page1] = await get(`/tasks?project=${project}&limit=3`);
    const next = page1.next_page as { offset: string; path: string; uri: string };
    assert.match(next.path, /^\/tasks\?project=\d+&limit=3&offset=/);
    assert.equal(next.uri, `${fake.baseUrl}${next.path}`);
    const seen = new Set((page1.data as { gid: string }[]).map((t) => t.gid));
    let offset: string | null = next.offset;
    while (offset) {
      const [, page] = await get(`/tasks?project=${project}&limit=3&offset=${offset}`);
      for (const t of page.data as { gid: string }[]) seen.add(t.gid);
      offset = (page.next_page as { offset: string } | null)?.offset ?? null;
    }
    assert.equal(seen.size, fake.data.tasksOf.get(project)!.length);
  }));

Deno.test("fake: opt_fields returns exactly those fields plus gid, with dotted paths", () =>
  withFake(async (fake, get) => {
    const project = fake.data.all("project")[0].gid;
    const [, body] = await get(
      `/tasks?project=${project}&limit=1&opt_fields=name,assignee,memberships.project.name,this.(followers|tags).name`,
    );
    const task = (body.data as Record<string, unknown>[])[0];
    assert.deepEqual(Object.keys(task).sort(), [
      "assignee",
      "followers",
      "gid",
      "memberships",
      "name",
      "tags",
    ]);
    const m = (task.memberships as { project: Record<string, unknown> }[])[0];
    assert.deepEqual(Object.keys(m), ["project"]);
    assert.deepEqual(Object.keys(m.project), ["gid", "name"]);
    if (task.assignee) {
      assert.deepEqual(Object.keys(task.assignee as object), ["gid", "resource_type"]);
    }
  }));

Deno.test("fake: limit must be 1..100", () =>
  withFake(async (_f, get) => {
    for (const limit of ["0", "101", "abc"]) {
      const [status, body] = await get(`/workspaces?limit=${limit}`);
      assert.equal(status, 400);
      assert.match(message(body), /^limit: /);
    }
  }));

Deno.test("fake: offset tokens are opaque, scoped and expire", () =>
  withFake(async (fake, get) => {
    const project = fake.data.all("project")[0].gid;
    const [, page] = await get(`/tasks?project=${project}&limit=2`);
    const offset = (page.next_page as { offset: string }).offset;
    const [s1, b1] = await get(`/tasks?project=${project}&limit=2&offset=garbage`);
    assert.deepEqual([s1, message(b1)], [400, "offset: Your pagination token is invalid."]);
    const other = fake.data.all("project")[1].gid;
    const [s2] = await get(`/tasks?project=${other}&limit=2&offset=${offset}`);
    assert.equal(s2, 400);
    await new Promise((r) => setTimeout(r, 30));
    const [s3, b3] = await get(`/tasks?project=${project}&limit=2&offset=${offset}`);
    assert.deepEqual([s3, message(b3)], [400, "offset: Your pagination token has expired."]);
  }, { offsetTtlMs: 10 }));

Deno.test("fake: GET /tasks answers the real 400s without a proper filter", () =>
  withFake(async (fake, get) => {
    const ws = fake.data.all("workspace")[0].gid;
    const project = fake.data.all("project")[0].gid;
    const cases: [string, number, string][] = [
      ["/tasks", 400, "You should specify one of workspace, project, tag, section, user_task_list"],
      [
        `/tasks?workspace=${ws}`,
        400,
        "Must specify exactly one of project, tag, section, user task list, or assignee + workspace",
      ],
      [
        `/tasks?project=${project}&assignee=me`,
        400,
        "Must specify exactly one of project, tag, section, user task list, or assignee + workspace",
      ],
      ["/tasks?project=", 400, "project: Not a Long"],
      ["/tasks?project=999", 404, "project: Unknown object: 999"],
      ["/tasks/123", 404, "task: Unknown object: 123"],
      ["/nowhere", 404, "No matching route for request"],
    ];
    for (const [path, status, text] of cases) {
      const [s, body] = await get(path);
      assert.deepEqual([s, message(body)], [status, text], path);
    }
    const [ok] = await get(`/tasks?workspace=${ws}&assignee=me`);
    assert.equal(ok, 200);
  }));

Deno.test("fake: subtasks are not in project listings unless added there; single GETs are full", () =>
  withFake(async (fake, get) => {
    const parent = [...fake.data.subtasksOf.keys()][0];
    const subs = fake.data.subtasksOf.get(parent)!;
    const listed = new Set([...fake.data.tasksOf.values()].flat());
    assert.equal(listed.has(subs[0]), true);
    assert.equal(listed.has(subs[1]), false);
    const [, body] = await get(`/tasks/${parent}/subtasks?limit=10`);
    assert.deepEqual((body.data as { gid: string }[]).map((t) => t.gid), subs);
    const [, full] = await get(`/tasks/${parent}`);
    const task = full.data as Record<string, unknown>;
    assert.equal(task.num_subtasks, 2);
    assert.ok(Array.isArray(task.memberships));
    assert.deepEqual(Object.keys(task.workspace as object), ["gid", "resource_type", "name"]);
  }));

Deno.test("fake: a large listing without limit is refused, as Asana does", () =>
  withFake(async (fake, get) => {
    const project = fake.data.all("project")[0].gid;
    const [status, body] = await get(`/tasks?project=${project}`);
    assert.equal(status, 400);
    assert.match(message(body), /^The result is too large\. You should use pagination/);
  }, { tasksPerProject: 1001, storiesPerTask: 0, teams: 1, projectsPerTeam: 1 }));

Deno.test("fake: the data is deterministic for a seed", async () => {
  const a = await startFakeAsana({ seed: 7 });
  const b = await startFakeAsana({ seed: 7 });
  try {
    assert.deepEqual(a.groundTruth(), b.groundTruth());
    assert.deepEqual(a.data.all("task").map((t) => t.name), b.data.all("task").map((t) => t.name));
  } finally {
    await a.close();
    await b.close();
  }
});
