import assert from "node:assert/strict";
import { SpecSchema } from "../src/spec/schema.ts";
import { parseSpec } from "../src/spec/load.ts";
import { SpecError } from "../src/spec/errors.ts";
import { startFakeAsana } from "../testing/fake_asana/mod.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { asanaOas, ROOT } from "./helpers.ts";
import { formatRunSummary } from "../src/cli/format.ts";
import { parse as parseYaml } from "yaml";
import { runCommand } from "../src/cli/commands/run.ts";
import { parseArgs } from "../src/cli/args.ts";
import { EXIT } from "../src/core/exit.ts";

interface SchemaNode {
  type: string;
  entries?: Record<string, SchemaNode>;
  wrapped?: SchemaNode;
  value?: SchemaNode;
  options?: SchemaNode[];
  item?: SchemaNode;
}

/** Every object key the spec schema accepts, at any depth. */
function allKeys(node: SchemaNode | undefined, out = new Set<string>()): Set<string> {
  if (!node) return out;
  for (const [k, child] of Object.entries(node.entries ?? {})) {
    out.add(k);
    allKeys(child, out);
  }
  allKeys(node.wrapped, out);
  allKeys(node.value, out);
  allKeys(node.item, out);
  for (const o of node.options ?? []) allKeys(o, out);
  return out;
}

Deno.test("docs/spec.md documents every key the spec schema accepts", async () => {
  const doc = await Deno.readTextFile(`${ROOT}docs/spec.md`);
  const keys = allKeys(SpecSchema as unknown as SchemaNode);
  assert.equal(keys.size > 40, true);
  const missing = [...keys].filter((k) => !doc.includes(`\`${k}\``));
  assert.deepEqual(missing, []);
});

function readmeExample(readme: string): string {
  const section = readme.slice(readme.indexOf("## Add an endpoint"));
  const m = section.match(/```yaml\n([\s\S]*?)```/);
  assert.ok(m, "the README has a YAML example");
  return m[1];
}

Deno.test("the README's add-an-endpoint example works as written", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const base = await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`);
  const fake = await startFakeAsana();
  try {
    const text = (base.trimEnd() + "\n\n" + readmeExample(readme))
      .replace("${ASANA_BASE_URL:-https://app.asana.com/api/1.0}", fake.baseUrl)
      .replace("${ASANA_ACCESS_TOKEN}", fake.token);
    const { spec } = parseSpec(text, "pipelines/asana.yaml", { configDir: "/x" });
    const dest = await PgliteDestination.open();
    await runPipeline(spec, { destination: dest, resources: ["task_tags"] });
    const listed = new Set([...fake.data.tasksOf.values()].flat());
    let expected = 0;
    for (const t of listed) expected += (fake.data.objects.get(t)!.tags as unknown[]).length;
    const r = await dest.db.query<{ n: number; named: number }>(
      `select count(*)::int as n, count(distinct task_gid)::int as named from asana_data.task_tags`,
    );
    assert.equal(r.rows[0].n, expected);
    assert.equal(expected > 0 && r.rows[0].named > 0, true);
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("the README's example error message is what restpipe prints", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const base = await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`);
  const broken = base.trimEnd() + "\n\n" +
    readmeExample(readme).replace("{tasks.gid}", "{task.gid}");
  const shown = readme.match(/^pipelines\/asana\.yaml:LINE .*$/m)?.[0];
  assert.ok(shown);
  try {
    parseSpec(broken, "pipelines/asana.yaml", { configDir: "/x", requireVariables: false });
    assert.fail("expected a SpecError");
  } catch (e) {
    assert.ok(e instanceof SpecError);
    // the line number depends on the file's length: the README shows LINE
    assert.equal(e.message.replace(/^(pipelines\/asana\.yaml):\d+:\d+/, "$1:LINE"), shown);
  }
});

Deno.test("docs/spec.schema.json is what the valibot schemas generate (deno task schema)", async () => {
  const { specJsonSchemaText } = await import("../src/spec/json_schema.ts");
  assert.equal(await Deno.readTextFile(`${ROOT}docs/spec.schema.json`), specJsonSchemaText());
});

Deno.test("pipelines/asana.yaml points editors at the JSON Schema, and validates against it", async () => {
  const text = await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`);
  assert.match(text, /^# yaml-language-server: \$schema=\.\.\/docs\/spec\.schema\.json$/m);
  const schema = JSON.parse(await Deno.readTextFile(`${ROOT}docs/spec.schema.json`));
  assert.deepEqual(Object.keys(schema.properties).sort(), [
    "$schema",
    "config_sections",
    "dataset",
    "defaults",
    "pipeline",
    "resources",
    "source",
    "views",
  ]);
  assert.equal(schema.additionalProperties, false);
});

/** The README's table of Asana's list endpoints: path → what loads it. */
async function endpointTable(): Promise<Map<string, string>> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const section = readme.slice(readme.indexOf("### Every list endpoint"));
  const rows = [...section.matchAll(/^\| `GET ([^`]+)`\s*\| ([^|]+)\|/gm)];
  return new Map(rows.map((m) => [m[1], m[2].trim().replaceAll("`", "")]));
}

Deno.test("the README accounts for every Asana list endpoint and every resource of asana.yaml", async () => {
  const table = await endpointTable();
  assert.equal(table.size, 65);
  const text = await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`);
  const { spec } = parseSpec(text.replace("${ASANA_ACCESS_TOKEN}", "x"), "asana.yaml", {
    configDir: "/x",
  });
  const loadedAs = new Set(table.values());
  for (const [name, r] of Object.entries(spec.resources)) {
    // a single-record endpoint (My Tasks of a user) is no list
    if (r.paginator?.type === "single") continue;
    assert.ok(loadedAs.has(name), `${name} is not in the README's endpoint table`);
  }
  // what the table says is loaded is a resource, or a child table of one
  for (const [path, as] of table) {
    if (as === "–") continue;
    assert.ok(as.split("__")[0] in spec.resources, `${path}: ${as} is not loaded`);
  }
});

Deno.test({
  name:
    "the README's endpoint table lists exactly the GET endpoints of asana_oas.yaml that page with offset",
  fn: async () => {
    const { parse } = await import("yaml");
    const oas = parse(await asanaOas(), { maxAliasCount: -1 }) as {
      paths: Record<string, Record<string, { parameters?: { $ref?: string; name?: string }[] }>>;
      components: { parameters: Record<string, { name: string }> };
    };
    const pages = (ps: { $ref?: string; name?: string }[] = []) =>
      ps.some((p) =>
        (p.$ref ? oas.components.parameters[p.$ref.split("/").pop()!]?.name : p.name) === "offset"
      );
    const listing = Object.entries(oas.paths).filter(([, ops]) =>
      ops.get && pages([...(ops.get.parameters ?? []), ...((ops.parameters ?? []) as never[])])
    ).map(([path]) => path).sort();
    assert.deepEqual([...(await endpointTable()).keys()].sort(), listing);
  },
});

Deno.test("the README's PGlite snippet runs as written, prints its rows and exits", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const code = readme.match(/```ts\n(import \{ PGlite \}[\s\S]*?)```/)?.[1];
  assert.ok(code, "the README has a PGlite snippet");
  const dir = await Deno.makeTempDir();
  const fake = await startFakeAsana({ tasksPerProject: 4 });
  try {
    const base = await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`);
    const text = base.replace("${ASANA_BASE_URL:-https://app.asana.com/api/1.0}", fake.baseUrl)
      .replace("${ASANA_ACCESS_TOKEN}", fake.token);
    const { spec } = parseSpec(text, "pipelines/asana.yaml", { configDir: "/x" });
    await runPipeline(spec, { dbDir: `${dir}/.data/asana`, resources: ["projects", "tasks"] });
    await Deno.writeTextFile(`${dir}/snippet.ts`, code);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", "snippet.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const out = await child.output();
    clearTimeout(timer);
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(
      out.code,
      0,
      `the snippet did not exit by itself: ${new TextDecoder().decode(out.stderr)}`,
    );
    assert.match(stdout, /project: .*open_tasks: \d+/);
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README's example added to an existing database loads every task's tags at the next run, once", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const fake = await startFakeAsana();
  try {
    const base = await Deno.readTextFile(`${ROOT}pipelines/asana.yaml`);
    const specOf = (text: string) =>
      parseSpec(
        text.replace("${ASANA_BASE_URL:-https://app.asana.com/api/1.0}", fake.baseUrl)
          .replace("${ASANA_ACCESS_TOKEN}", fake.token)
          .replace(/requests_per_minute: \d+/, "requests_per_minute: 60000"),
        "pipelines/asana.yaml",
        { configDir: "/x" },
      ).spec;
    const dest = await PgliteDestination.open();
    await runPipeline(specOf(base), { destination: dest });
    // the user pastes the example into the spec, and runs it
    const edited = specOf(base.trimEnd() + "\n\n" + readmeExample(readme));
    const second = await runPipeline(edited, { destination: dest });
    const listed = new Set([...fake.data.tasksOf.values()].flat());
    let expected = 0;
    for (const t of listed) expected += (fake.data.objects.get(t)!.tags as unknown[]).length;
    const count = async () =>
      (await dest.db.query<{ n: number }>(`select count(*)::int as n from asana_data.task_tags`))
        .rows[0].n;
    assert.equal(expected > 0, true);
    assert.equal(await count(), expected);
    const tags = second.resources.find((r) => r.resource === "task_tags")!;
    assert.equal(tags.backfilled, true);
    assert.equal(tags.requests, listed.size, "one listing per existing task");
    // the other children of unchanged tasks are not fetched again
    assert.equal(second.resources.find((r) => r.resource === "stories")!.requests, 0);
    assert.equal(
      second.resources.filter((r) => r.backfilled).map((r) => r.resource).join(),
      "task_tags",
    );
    // the whole spec's next run fetches tags only for changed tasks, and nothing is backfilled
    const third = await runPipeline(edited, { destination: dest });
    assert.equal(third.resources.some((r) => r.backfilled), false);
    assert.equal(third.resources.find((r) => r.resource === "task_tags")!.requests, 0);
    assert.equal(await count(), expected);
    assert.deepEqual(third.removed, []);
    // taken out of the spec again: the run says so, and keeps the table
    const fourth = await runPipeline(specOf(base), { destination: dest });
    assert.deepEqual(fourth.removed, ["task_tags"]);
    assert.match(
      formatRunSummary(fourth),
      /^task_tags: no longer in the spec; its tables were kept/m,
    );
    assert.equal(await count(), expected);
    await dest.close();
  } finally {
    await fake.close();
  }
});

Deno.test("the Kubernetes CronJob and Airflow DAG examples parse, and follow the exit-code contract", async () => {
  const k8s = parseYaml(await Deno.readTextFile(`${ROOT}docs/examples/k8s-cronjob.yaml`));
  assert.equal(k8s.kind, "CronJob");
  assert.equal(k8s.spec.concurrencyPolicy, "Forbid");
  const job = k8s.spec.jobTemplate.spec;
  assert.equal(job.template.spec.restartPolicy, "Never");
  const rules = job.podFailurePolicy.rules as {
    action: string;
    onExitCodes: { values: number[] };
  }[];
  const codes = (action: string) => rules.find((r) => r.action === action)!.onExitCodes.values;
  assert.deepEqual(codes("FailJob"), [EXIT.failed, EXIT.usage]);
  assert.ok(codes("Count").includes(EXIT.tempfail));
  const [container] = job.template.spec.containers;
  assert.deepEqual(container.command, ["deno", "task", "run", "pipelines/asana.yaml"]);
  // every option is one `run` takes, and no secret is on the command line
  parseArgs(container.args, runCommand.flags);
  assert.ok(container.env.every((e: { valueFrom?: unknown }) => e.valueFrom !== undefined));

  const dag = `${ROOT}docs/examples/airflow_dag.py`;
  const text = await Deno.readTextFile(dag);
  assert.match(text, /TEMPORARY = \{75, 143\}/);
  assert.match(text, /max_active_runs=1/);
  const options = [...text.matchAll(/"(--[a-z-]+)"/g)].map((m) => m[1]);
  parseArgs([...options.flatMap((o) => [o, "x"])], runCommand.flags);
  // Python's own parser, where the machine has Python (CI's has)
  const python = await new Deno.Command("python3", {
    args: ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", dag],
  }).output().catch(() => undefined);
  if (python) assert.equal(python.code, 0, new TextDecoder().decode(python.stderr));
});
