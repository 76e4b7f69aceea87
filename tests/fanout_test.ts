import assert from "node:assert/strict";
import { parseSpec } from "../src/spec/load.ts";
import { SpecError } from "../src/spec/errors.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { serveJson } from "./helpers.ts";

/** A small tree API: folders hold files and sub-folders; notes hang off folders and files. */
const FOLDERS: Record<string, { children: string[]; files: string[]; tags: string[] }> = {
  root: { children: ["a", "b"], files: ["f1"], tags: ["x", "y"] },
  a: { children: ["a1"], files: ["f2", "f3"], tags: [] },
  a1: { children: ["a11"], files: [], tags: ["x"] },
  a11: { children: [], files: ["f4"], tags: [] },
  b: { children: [], files: [], tags: ["y"] },
};

function api() {
  return serveJson((url) => {
    const m = url.pathname.match(/^\/folders\/(\w+)\/(children|files)$/);
    if (url.pathname === "/roots") return { body: { data: [{ id: "root" }] } };
    if (m) {
      const list = FOLDERS[m[1]][m[2] as "children" | "files"];
      return { body: { data: list.map((id) => ({ id, tags: FOLDERS[id]?.tags })) } };
    }
    if (url.pathname === "/notes") {
      // notes of a file or a folder; the folder "a" and file "f2" share note n-shared
      const on = url.searchParams.get("on")!;
      const shared = on === "a" || on === "f2" ? [{ id: "n-shared" }] : [];
      return { body: { data: [{ id: `n-${on}` }, ...shared] } };
    }
    const tag = url.pathname.match(/^\/tags\/(\w+)$/);
    if (tag) return { body: { data: { id: tag[1], kind: url.searchParams.get("kind") } } };
    return { status: 404, body: { errors: [{ message: "no route" }] } };
  });
}

function spec(url: string, resources: string) {
  return parseSpec(
    `pipeline: tree
dataset: tree_data
source: { base_url: "${url}", records: data }
defaults: { write_disposition: replace, primary_key: id }
resources:
  roots: { path: /roots }
  folders:
    path: /folders/{parent.id}/children
    parent: [roots, folders]
${resources}`,
    "tree.yaml",
    { configDir: "/x" },
  ).spec;
}

async function ids(dest: PgliteDestination, table: string): Promise<string[]> {
  const r = await dest.db.query<{ id: string }>(`select id from tree_data.${table} order by id`);
  return r.rows.map((x) => x.id);
}

Deno.test("a recursive resource walks the whole tree", async () => {
  await using server = api();
  const dest = await PgliteDestination.open();
  await runPipeline(spec(server.url, ""), { destination: dest });
  assert.deepEqual(await ids(dest, "folders"), ["a", "a1", "a11", "b"]);
  const parents = await dest.db.query<{ id: string; p: string }>(
    `select id, _dlt_parent_key as p from tree_data.folders order by id`,
  );
  assert.deepEqual(parents.rows.map((r) => [r.id, r.p]), [
    ["a", "root"],
    ["a1", "a"],
    ["a11", "a1"],
    ["b", "root"],
  ]);
  await dest.close();
});

Deno.test("a union of parents, deduplicated on the key", async () => {
  await using server = api();
  const dest = await PgliteDestination.open();
  const s = spec(
    server.url,
    `  files:
    path: /folders/{parent.id}/files
    parent: [roots, folders]
  notes:
    path: /notes
    parent: [folders, files]
    params: { on: "{parent.id}" }
`,
  );
  const result = await runPipeline(s, { destination: dest });
  assert.deepEqual(await ids(dest, "files"), ["f1", "f2", "f3", "f4"]);
  // 4 folders + 4 files = 8 own notes, plus n-shared listed twice but loaded once
  const notes = await ids(dest, "notes");
  assert.equal(notes.length, 9);
  assert.equal(notes.filter((n) => n === "n-shared").length, 1);
  // the summary counts rows written (9) and records received (10)
  const summary = result.resources.find((r) => r.resource === "notes")!;
  assert.deepEqual([summary.rows, summary.received], [9, 10]);
  await dest.close();
});

Deno.test("for_each over a list in the parent record, and over static values", async () => {
  await using server = api();
  const dest = await PgliteDestination.open();
  const s = parseSpec(
    `pipeline: tree
dataset: tree_data
source: { base_url: "${server.url}", records: data }
defaults: { write_disposition: replace }
resources:
  folders:
    path: /folders/{item}/children
    for_each: [root, a]
    primary_key: id
  tags:
    path: /tags/{item}
    parent: folders
    for_each: "{parent.tags}"
    params: { kind: "{item}" }
  kinds:
    path: /tags/{item}
    for_each: "red, green ,blue"
`,
    "tree.yaml",
    { configDir: "/x" },
  ).spec;
  // folders: children of root (a, b) and of a (a1); their tags: a1 has x, b has y
  await runPipeline(s, { destination: dest });
  assert.deepEqual(await ids(dest, "folders"), ["a", "a1", "b"]);
  const tags = await dest.db.query<{ id: string; kind: string }>(
    `select id, kind from tree_data.tags order by id`,
  );
  assert.deepEqual(tags.rows.map((r) => [r.id, r.kind]), [["x", "x"], ["y", "y"]]);
  assert.deepEqual(await ids(dest, "kinds"), ["blue", "green", "red"]);
  await dest.close();
});

function errors(text: string): string[] {
  try {
    parseSpec(text, "s.yaml", { configDir: "/x" });
  } catch (e) {
    if (e instanceof SpecError) return e.message.split("\n");
    throw e;
  }
  return [];
}

Deno.test("graph checks: item placeholders need for_each; union placeholders must reach every parent", () => {
  const base = `pipeline: t
dataset: t
source: { base_url: "https://x.example" }
resources:
  a: { path: /a, fields: [id] }
  b: { path: /b, fields: [id] }
  c: { path: /c, parent: a }
`;
  assert.deepEqual(errors(base + "  d:\n    path: /d/{item}\n"), [
    "s.yaml:9:5 resources.d.path: placeholder {item} needs for_each: on d",
  ]);
  assert.deepEqual(errors(base + "  d:\n    path: /d/{a.id}\n    parent: [c, b]\n"), [
    "s.yaml:9:5 resources.d.path: placeholder {a.id} names a, which is not an ancestor of d through its parent b (its parents: c → a → b)",
  ]);
  assert.deepEqual(errors(base + "  d:\n    path: /d/{parent.id}\n    parent: [a, b, d]\n"), []);
  assert.deepEqual(errors(base + "  d:\n    path: /d/{parent.nope}\n    parent: [a, b]\n"), [
    `s.yaml:9:5 resources.d.path: placeholder {parent.nope}: a does not request field "nope"`,
  ]);
});
