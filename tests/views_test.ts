/**
 * Views: names joined in SQL instead of copied into rows (issue 20, point 2), and the
 * spec's `views:` as a destination feature (made in the load's transaction, made again
 * when a table under them is altered, a refused one named while the load commits).
 */
import assert from "node:assert/strict";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { Ref } from "../testing/fake_asana/data.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import type { Destination } from "../src/load/destination.ts";
import { parseSpec } from "../src/spec/load.ts";
import { formatRunSummary } from "../src/cli/format.ts";
import type { RestpipeError } from "../src/core/errors.ts";
import {
  asanaSpec,
  differing,
  freshLoad,
  serveJson,
  tableContents,
  testEachDestination,
} from "./helpers.ts";

const SIZE = { seed: 11, tasksPerProject: 12 };
/** Every `refresh_every` due at once (as when 12 hours have passed). */
const due = (s: string) => s.replace(/refresh_every: 12h/g, "refresh_every: 0s");

Deno.test("renames leave no stale copy: after renaming a project, a user, a section, a custom field and an option, every table and view equals a fresh load", async () => {
  const fake = await startFakeAsana(SIZE);
  try {
    const dest = await PgliteDestination.open();
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const first = await runPipeline(spec, { destination: dest });
    assert.deepEqual(first.viewsFailed, []);
    assert.deepEqual(first.views, Object.keys(spec.views ?? {}));
    assert.equal(first.views.length >= 8, true);
    assert.match(formatRunSummary(first), /tables and 8 views committed/);

    // a project with tasks and an assignee; neither rename moves any task's modified_at
    const task = fake.data.all("task").find((t) =>
      t.assignee instanceof Ref && (t.projects as Ref[]).length > 0
    )!;
    const project = (task.projects as Ref[])[0].gid;
    const user = (task.assignee as Ref).gid;
    const modified = fake.data.all("task").map((t) => t.modified_at);
    fake.data.rename(project, "Renamed project");
    fake.data.rename(user, "Renamed user");
    assert.deepEqual(fake.data.all("task").map((t) => t.modified_at), modified);
    await runPipeline(spec, { destination: dest });
    assert.deepEqual(
      differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token)),
      [],
    );
    const named = await dest.query<{ project_name: string }>(
      `select project_name from asana_data.task_memberships_named where task_gid = $1`,
      [task.gid],
    );
    assert.equal(named.rows.some((r) => r.project_name === "Renamed project"), true);
    const assignee = await dest.query<{ assignee_name: string }>(
      `select assignee_name from asana_data.tasks_named where gid = $1`,
      [task.gid],
    );
    assert.equal(assignee.rows[0].assignee_name, "Renamed user");

    // sections and custom fields are listed again every 12 h: once due, exact as well
    const section = fake.data.all("section").find((s) => (s.project as Ref).gid === project)!;
    const priority = fake.data.all("custom_field").find((c) => c.name === "Priority")!;
    fake.data.rename(section.gid, "Renamed section");
    fake.data.rename(priority.gid, "Urgency");
    fake.data.renameEnumOption(priority.gid, 0, "Lowest");
    await runPipeline(await asanaSpec(fake.baseUrl, fake.token, due), { destination: dest });
    assert.deepEqual(
      differing(await tableContents(dest), await freshLoad(fake.baseUrl, fake.token, due)),
      [],
    );
    const options = await dest.query<{ custom_field_name: string; enum_option_name: string }>(
      `select distinct custom_field_name, enum_option_name from asana_data.task_custom_fields_named
       where custom_field_gid = $1 and enum_option_name is not null order by 2`,
      [priority.gid],
    );
    assert.equal(options.rows.every((r) => r.custom_field_name === "Urgency"), true);
    assert.equal(options.rows.some((r) => r.enum_option_name === "Lowest"), true);
    assert.equal(options.rows.some((r) => r.enum_option_name === "Low"), false);
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("the control: a spec that copies names into rows keeps the old name after a rename (the test above would see it)", async () => {
  const fake = await startFakeAsana(SIZE);
  try {
    // subtasks are listed again only when they or their parent change: a user's name
    // copied into them stays as it was (tasks' own rows are listed whole at every run)
    const copying = (s: string) =>
      s.replace(
        "fields: [gid, name, resource_subtype, assignee, completed,",
        "fields: [gid, name, resource_subtype, assignee, assignee.name, completed,",
      );
    const dest = await PgliteDestination.open();
    const spec = await asanaSpec(fake.baseUrl, fake.token, copying);
    await runPipeline(spec, { destination: dest });
    const subtask = fake.data.all("task").find((t) =>
      t.parent instanceof Ref && t.assignee instanceof Ref
    )!;
    fake.data.rename((subtask.assignee as Ref).gid, "Renamed user");
    await runPipeline(spec, { destination: dest });
    const fresh = await freshLoad(fake.baseUrl, fake.token, copying);
    assert.deepEqual(differing(await tableContents(dest), fresh), ["subtasks", "subtasks_named"]);
    await dest.close();
  } finally {
    await fake.close();
  }
});

/** A small API whose `amount` turns from whole numbers into fractions on the second run. */
function itemsApi() {
  let run = 0;
  const api = serveJson((url) => {
    if (url.pathname === "/items") {
      run++;
      return {
        body: {
          data: [
            { id: 1, name: "one", amount: run === 1 ? 5 : 5.5, owner: { id: 7 } },
            { id: 2, name: "two", amount: 3, owner: { id: 8 } },
          ],
        },
      };
    }
    return { body: { data: [{ id: 7, name: "Ann" }, { id: 8, name: "Bob" }] } };
  });
  return api;
}

function itemsSpec(url: string, views: string): string {
  return `
pipeline: v
dataset: v_data
source:
  base_url: ${url}
  records: data
  paginator: { type: single }
defaults:
  write_disposition: replace
resources:
  items:
    path: /items
    primary_key: id
  people:
    path: /people
    primary_key: id
views:
${views}
`;
}

const VIEWS = `
  items_named: |
    select i.id, i.name, i.amount, p.name as owner_name
    from items i left join people p on p.id = i.owner__id
  big_items: select id, amount from items_named where amount > 4
`;

testEachDestination(
  "views are made after every load; a column widened under them is widened in them too",
  async (dest: Destination) => {
    await using api = itemsApi();
    const { spec } = parseSpec(itemsSpec(api.url, VIEWS), "v.yaml", { configDir: "/x" });
    const first = await runPipeline(spec, { destination: dest });
    assert.deepEqual(first.views, ["items_named", "big_items"]);
    const read = async () =>
      (await dest.query<{ id: number; amount: number; owner_name: string }>(
        `select id::int, amount::float8 as amount, owner_name from v_data.items_named order by id`,
      )).rows;
    assert.deepEqual(await read(), [
      { id: 1, amount: 5, owner_name: "Ann" },
      { id: 2, amount: 3, owner_name: "Bob" },
    ]);
    // amount becomes a fraction: the column is widened (bigint → double precision), which
    // Postgres refuses while a view reads it; the run drops the views and makes them again
    const second = await runPipeline(spec, { destination: dest });
    assert.deepEqual(second.viewsFailed, []);
    assert.deepEqual((await read())[0], { id: 1, amount: 5.5, owner_name: "Ann" });
    const big = await dest.query<{ n: number }>(`select count(*)::int as n from v_data.big_items`);
    assert.equal(big.rows[0].n, 1);
    const type = await dest.query<{ data_type: string }>(
      `select data_type from information_schema.columns
     where table_schema = 'v_data' and table_name = 'items_named' and column_name = 'amount'`,
    );
    assert.equal(type.rows[0].data_type, "double precision");
  },
);

testEachDestination(
  "a view Postgres refuses is named in the summary, and the load commits without it",
  async (dest: Destination) => {
    await using api = itemsApi();
    const views = `
  good: select id from items
  typo: select id, no_such_column from items
  later: select id, colour from items
`;
    const { spec } = parseSpec(itemsSpec(api.url, views), "v.yaml", { configDir: "/x" });
    const result = await runPipeline(spec, { destination: dest });
    assert.deepEqual(result.views, ["good"]);
    assert.deepEqual(result.viewsFailed.map((f) => f.view), ["typo", "later"]);
    assert.match(result.viewsFailed[0].message, /no_such_column/);
    assert.match(
      formatRunSummary(result),
      /^view typo not made: .*no_such_column.* \(the load committed without it\)$/m,
    );
    const rows = await dest.query<{ n: number }>(`select count(*)::int as n from v_data.items`);
    assert.equal(rows.rows[0].n, 2);
    const good = await dest.query<{ n: number }>(`select count(*)::int as n from v_data.good`);
    assert.equal(good.rows[0].n, 2);
  },
);

testEachDestination(
  "a view of the user's own over a spec view: the run that must alter a table fails saying which view to drop, and the previous load stays",
  async (dest: Destination) => {
    await using api = itemsApi();
    const { spec } = parseSpec(itemsSpec(api.url, VIEWS), "v.yaml", { configDir: "/x" });
    await runPipeline(spec, { destination: dest });
    await dest.query(`create view v_data.mine as select * from v_data.items_named`, [], {
      write: true,
    });
    // the second run widens items.amount, so it must drop items_named, which mine reads
    await assert.rejects(
      () => runPipeline(spec, { destination: dest }),
      (e: Error) => {
        assert.match(e.message, /view v_data\.big_items|view v_data\.items_named/);
        assert.match(e.message, /a view of your own reads it/);
        return true;
      },
    );
    const kept = await dest.query<{ amount: number }>(
      `select amount::float8 as amount from v_data.items where id = 1`,
    );
    assert.equal(kept.rows[0].amount, 5);
    const mine = await dest.query<{ n: number }>(`select count(*)::int as n from v_data.mine`);
    assert.equal(mine.rows[0].n, 2);
  },
);

Deno.test("a view named like a table is refused by check, with where", () => {
  assert.throws(
    () =>
      parseSpec(
        itemsSpec("http://127.0.0.1:1", "  items__tags: select 1 as x\n  ok: select 1 as y"),
        "v.yaml",
        { configDir: "/x" },
      ),
    (e: RestpipeError) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /v\.yaml:\d+:\d+ .*views\.items__tags.*child table of items/);
      return true;
    },
  );
  assert.throws(
    () =>
      parseSpec(itemsSpec("http://127.0.0.1:1", "  bad: delete from items"), "v.yaml", {
        configDir: "/x",
      }),
    /views\.bad.*starts with select or with/,
  );
});
