import assert from "node:assert/strict";
import { parseSpec } from "../src/spec/load.ts";
import { SpecError } from "../src/spec/errors.ts";
import { ROOT, runCli, tempDir, writeSpec } from "./helpers.ts";

const VALID = `pipeline: demo
dataset: demo_data
source:
  base_url: https://api.example.com
  records: data
resources:
  workspaces:
    path: /workspaces
    fields: [gid, name]
  projects:
    path: /projects
    parent: workspaces
    params:
      workspace: "{workspaces.gid}"
    fields: [gid, name]
`;

function errorsOf(text: string, file = "spec.yaml"): string[] {
  try {
    parseSpec(text, file, { configDir: "/nonexistent" });
  } catch (e) {
    if (e instanceof SpecError) return e.message.split("\n");
    throw e;
  }
  assert.fail("expected a SpecError");
}

Deno.test("a valid spec parses, with defaults filled in", () => {
  const { spec } = parseSpec(VALID, "spec.yaml", { configDir: "/nonexistent" });
  assert.equal(spec.pipeline, "demo");
  assert.deepEqual(spec.source.paginator, { type: "single" });
  assert.equal(spec.resources.projects.parent, "workspaces");
  assert.equal(spec.resources.projects.enabled, true);
});

Deno.test("a bad enum value names file:line:column, key path, choices and value", () => {
  const text = VALID.replace(
    "    fields: [gid, name]\n  projects:",
    "    fields: [gid, name]\n    write_disposition: merg\n  projects:",
  );
  assert.deepEqual(errorsOf(text, "pipelines/x.yaml"), [
    `pipelines/x.yaml:10:5 resources.workspaces.write_disposition: expected replace, append, merge or scd2, got "merg"`,
  ]);
});

Deno.test("unknown keys are reported with a did-you-mean, at every level", () => {
  const text = VALID
    .replace("  records: data", "  records: data\n  paginater: {type: single}")
    .replace("    path: /workspaces", "    path: /workspaces\n    feilds: [a]");
  const errors = errorsOf(text);
  assert.deepEqual(errors, [
    `spec.yaml:6:3 source.paginater: unknown key "paginater"; did you mean "paginator"?`,
    `spec.yaml:10:5 resources.workspaces.feilds: unknown key "feilds"; did you mean "fields"?`,
  ]);
});

Deno.test("unknown keys inside a variant (paginator) suggest that variant's keys", () => {
  const text = VALID.replace(
    "  records: data",
    "  records: data\n  paginator:\n    type: cursor\n    cursor_pth: next.cursor",
  );
  assert.deepEqual(errorsOf(text), [
    `spec.yaml:8:5 source.paginator.cursor_pth: unknown key "cursor_pth"; did you mean "cursor_path"?`,
  ]);
});

Deno.test("a missing required key points at its map", () => {
  const text = VALID.replace("    path: /workspaces\n", "");
  assert.deepEqual(errorsOf(text), [
    `spec.yaml:7:3 resources.workspaces: missing required key "path"`,
  ]);
});

Deno.test("wrong types and bad paginator types are explained", () => {
  const text = VALID
    .replace("  records: data", "  records: data\n  paginator: {type: cursr}")
    .replace("    fields: [gid, name]\n  projects:", "    fields: gid\n  projects:");
  const errors = errorsOf(text);
  assert.equal(errors.length, 2);
  assert.match(
    errors[0],
    /^spec\.yaml:6:15 source\.paginator\.type: expected paginator type cursor, next_url/,
  );
  assert.match(errors[0], /got "cursr"$/);
  assert.match(
    errors[1],
    /^spec\.yaml:10:5 resources\.workspaces\.fields: expected Array, got "gid"$/,
  );
});

Deno.test("unknown parents, cycles and bad placeholders are caught before any request", () => {
  const text = `pipeline: demo
dataset: demo_data
source:
  base_url: https://api.example.com
resources:
  a:
    path: /a/{b.id}
    parent: b
  b:
    path: /b
    parent: a
  c:
    path: /c
    parent: workspace
  d:
    path: /d/{users.id}
  e:
    path: /e
    params: { x: "{parent.gid}" }
  f:
    path: /f
    fields: [id, name]
  g:
    path: /g/{f.nmae}
    parent: f
`;
  const errors = errorsOf(text);
  assert.deepEqual(errors, [
    "spec.yaml:8:5 resources.a.parent: parent cycle: a → b → a (only a resource that names itself among its parents may recurse)",
    'spec.yaml:14:5 resources.c.parent: unknown parent resource "workspace"',
    'spec.yaml:16:5 resources.d.path: placeholder {users.id} names unknown resource "users"',
    "spec.yaml:19:15 resources.e.params.x: placeholder {parent.gid} needs a parent, but e has none",
    `spec.yaml:24:5 resources.g.path: placeholder {f.nmae}: f does not request field "nmae"; did you mean "name"?`,
  ]);
});

Deno.test("refresh_on and reconcile.moves_cursor are checked against the parents and children they name", () => {
  const text = `pipeline: demo
dataset: demo_data
source:
  base_url: https://api.example.com
resources:
  projects:
    path: /projects
    fields: [gid, name, members, custom_field_settings]
  settings:
    path: /p/{projects.gid}/settings
    parent: projects
    refresh_on: [custom_field_settings.gid, membres]
    refresh_every: 7d
  memberships:
    path: /p/{projects.gid}/memberships
    parent: projects
    refresh_on: { projects: [members], project: [name] }
  tasks:
    path: /tasks
    parent: projects
    fields: [gid, modified_at]
    incremental: { cursor: modified_at, initial: "2024-01-01T00:00:00Z" }
    reconcile: { moves_cursor: [attachments, comments] }
  attachments:
    path: /attachments
    parent: tasks
`;
  assert.deepEqual(errorsOf(text), [
    `spec.yaml:12:45 resources.settings.refresh_on[1]: "membres" is not among the fields of projects: its records would not carry it; did you mean "members"?`,
    "spec.yaml:17:19 resources.memberships.refresh_on.projects: refresh_on makes a listing due before its refresh_every; without a refresh_every for projects it is listed at every run: add refresh_every",
    'spec.yaml:17:40 resources.memberships.refresh_on.project: "project" is not a parent of this resource; did you mean "projects"?',
    "spec.yaml:23:18 resources.tasks.reconcile.moves_cursor: moves_cursor says what a listing of whole records need not list again below records that did not change: add listing: records",
    'spec.yaml:23:46 resources.tasks.reconcile.moves_cursor[1]: "comments" is not a child resource of tasks (its children: attachments)',
  ]);
});

Deno.test("every error is reported at once, schema and graph together", () => {
  const text = VALID
    .replace("    parent: workspaces", "    parent: workspace")
    .replace("dataset: demo_data", "dataset: demo-data");
  const errors = errorsOf(text);
  assert.equal(errors.length, 2);
  assert.match(errors[0], /^spec\.yaml:2:1 dataset: expected a name of letters, digits and _$/);
  assert.match(
    errors[1],
    /resources\.projects\.parent: unknown parent resource "workspace"; did you mean "workspaces"\?$/,
  );
});

Deno.test("YAML syntax errors carry their position", () => {
  const errors = errorsOf("pipeline: demo\nsource: [unclosed\n");
  assert.equal(errors.length, 1);
  assert.match(errors[0], /^spec\.yaml:\d+:\d+ /);
});

Deno.test("${VAR} and ${VAR:-default} interpolate from the environment", () => {
  Deno.env.set("RESTPIPE_TEST_URL", "https://env.example.com");
  const text = VALID.replace("https://api.example.com", "${RESTPIPE_TEST_URL}")
    .replace("records: data", "records: ${RESTPIPE_UNSET_VAR:-items}");
  const { spec } = parseSpec(text, "spec.yaml", { configDir: "/nonexistent" });
  assert.equal(spec.source.base_url, "https://env.example.com");
  assert.equal(spec.source.records, "items");
  Deno.env.delete("RESTPIPE_TEST_URL");
});

Deno.test("an unset variable says where it was looked for", () => {
  const text = VALID.replace(
    "  records: data",
    '  records: data\n  auth: { type: bearer, token: "${DEMO_API_TOKEN}" }',
  );
  const errors = errorsOf(text);
  assert.deepEqual(errors, [
    "spec.yaml:6:25 source.auth.token: ${DEMO_API_TOKEN} is not set; looked for the environment variable " +
    "DEMO_API_TOKEN, or api_token under [sources.demo] in .dlt/secrets.toml or .dlt/config.toml",
  ]);
});

Deno.test("secrets come from .dlt/secrets.toml, including a dlt user's own section", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/.dlt`);
  await Deno.writeTextFile(
    `${dir.path}/.dlt/secrets.toml`,
    `[sources.demo_dlt]\napi_token = "s3cret-from-toml"\n`,
  );
  const text = "config_sections: [demo, demo_dlt]\n" + VALID.replace(
    "  records: data",
    '  records: data\n  auth: { type: bearer, token: "${DEMO_API_TOKEN}" }',
  );
  const { spec } = parseSpec(text, "spec.yaml", { configDir: dir.path });
  assert.deepEqual(spec.source.auth, { type: "bearer", token: "s3cret-from-toml" });
});

Deno.test("plain http to a non-loopback host is refused unless the spec opts in", () => {
  const text = VALID.replace("https://api.example.com", "http://api.example.com");
  const errors = errorsOf(text);
  assert.equal(errors.length, 1);
  assert.match(
    errors[0],
    /^spec\.yaml:4:3 source\.base_url: plain http:\/\/ to a non-loopback host/,
  );
  const optIn = text.replace("  records: data", "  records: data\n  allow_insecure_http: true");
  assert.equal(
    parseSpec(optIn, "spec.yaml", { configDir: "/x" }).spec.source.allow_insecure_http,
    true,
  );
});

Deno.test("the CLI exits 2 with the messages (no stack trace) for a bad spec", async () => {
  await using dir = await tempDir();
  const file = await writeSpec(
    dir.path,
    VALID.replace(
      "fields: [gid, name]\n  projects:",
      "fields: [gid, name]\n    write_disposition: merg\n  projects:",
    ),
  );
  const r = await runCli(["run", file, "--db", `${dir.path}/db`]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.trim(),
    `${file}:10:5 resources.workspaces.write_disposition: expected replace, append, merge or scd2, got "merg"`,
  );
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
});

Deno.test("the CLI reports a missing token in one line and exits 2", async () => {
  await using dir = await tempDir();
  const r = await runCli(
    ["run", `${ROOT}pipelines/asana.yaml`, "--db", `${dir.path}/db`],
    {},
    dir.path,
  );
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /source\.auth\.token: \$\{ASANA_ACCESS_TOKEN\} is not set; looked for the environment variable ASANA_ACCESS_TOKEN, or access_token under \[sources\.asana\]/,
  );
});

Deno.test("the CLI exits 2 on unknown options and unknown --resources names", async () => {
  const r = await runCli(["run", `${ROOT}pipelines/asana.yaml`, "--bogus"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --bogus/);
  const r2 = await runCli(
    ["run", `${ROOT}pipelines/asana.yaml`, "--resources", "taks", "--db", "/tmp/restpipe-unused"],
    { ASANA_ACCESS_TOKEN: "x" },
  );
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--resources: unknown resource "taks"; did you mean "tasks"\?/);
});

Deno.test("show without a spec uses the one database under .data/, or says what to do", async () => {
  await using dir = await tempDir();
  const none = await runCli(["show"], {}, dir.path);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no database under \.data\/: run a pipeline first/);
});
