/**
 * `check --openapi`: a spec against an API's OpenAPI description, with every mismatch
 * at its file:line:column, exit 2.
 */
import assert from "node:assert/strict";
import { ROOT, runCli, tempDir } from "./helpers.ts";

const OAS = `${ROOT}reference/asana_oas.yaml.gz`;

Deno.test("pipelines/asana.yaml passes check --openapi against Asana's own description", async () => {
  const r = await runCli(
    ["check", `${ROOT}pipelines/asana.yaml`, "--openapi", OAS],
    { ASANA_ACCESS_TOKEN: "x" },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /checked against .*asana_oas\.yaml\.gz: every resource's path has a GET/);
});

Deno.test("check --openapi names each unknown path, undeclared or missing param and unknown field", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/bad.yaml`;
  await Deno.writeTextFile(
    file,
    `pipeline: bad
dataset: bad_data
source:
  base_url: https://app.asana.com/api/1.0
  records: data
  fields_param: opt_fields
  always_returned: [gid, resource_type]
  paginator: { type: cursor, cursor_path: next_page.offset, cursor_param: offset }
  params: { limit: 100 }
defaults: { primary_key: gid }
resources:
  workspaces: { path: /workspaces, fields: [gid, name, nmae] }
  projects:
    path: /projects
    parent: workspaces
    params: { workspace: "{workspaces.gid}", colour: red }
    fields: [name, owner.name, team.nam]
  sections: { path: "/projects/{projects.gid}/sectionz", parent: projects }
  periods: { path: /time_periods, parent: workspaces }
  lists:
    path: /users/{workspaces.gid}/user_task_list
    parent: workspaces
    params: { workspace: "{workspaces.gid}" }
    paginator: { type: single }
`,
  );
  const r = await runCli(["check", file, "--openapi", OAS], {});
  assert.equal(r.code, 2, r.stdout);
  assert.deepEqual(r.stderr.trim().split("\n").map((l) => l.replace(file, "bad.yaml")), [
    'bad.yaml:9:13 source.params.limit: GET /users/{user_gid}/user_task_list declares no query parameter "limit" (resource lists; set it to null there)',
    'bad.yaml:12:56 resources.workspaces.fields[2]: "nmae" is not a field GET /workspaces returns; did you mean "name"?',
    'bad.yaml:16:46 resources.projects.params.colour: GET /projects declares no query parameter "colour"',
    'bad.yaml:17:20 resources.projects.fields[1]: "owner.name" is not a field GET /projects returns',
    'bad.yaml:17:32 resources.projects.fields[2]: "team.nam" is not a field GET /projects returns; did you mean "team.name"?',
    'bad.yaml:18:15 resources.sections.path: /projects/{projects.gid}/sectionz is not a path of the OpenAPI description; did you mean "/projects/{project_gid}/sections"?',
    'bad.yaml:19:3 resources.periods: GET /time_periods requires the query parameter "workspace"; add it to params',
  ]);
});
