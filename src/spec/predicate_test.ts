/**
 * `when:` predicates: the expression language, its three-valued logic, and its errors
 * in the spec at the expression's own column.
 */
import assert from "node:assert/strict";
import { evaluatePredicate, parsePredicate, PredicateError } from "./predicate.ts";
import { parseSpec } from "./load.ts";
import { SpecError } from "./errors.ts";
import { buildPlan } from "../plan/plan.ts";

const when = (text: string, record: unknown) => evaluatePredicate(parsePredicate(text), record);

Deno.test("comparisons, truthiness, and/or/not and parentheses", () => {
  assert.equal(when("num_subtasks > 0", { num_subtasks: 3 }), true);
  assert.equal(when("num_subtasks > 0", { num_subtasks: 0 }), false);
  assert.equal(
    when("num_subtasks >= 1 and completed == false", { num_subtasks: 1, completed: false }),
    true,
  );
  assert.equal(when("is_organization", { is_organization: true }), true);
  assert.equal(when("is_organization", { is_organization: false }), false);
  assert.equal(when("dependencies", { dependencies: [] }), false);
  assert.equal(when("dependencies", { dependencies: [{ gid: "1" }] }), true);
  assert.equal(when("not archived", { archived: true }), false);
  assert.equal(when("type == 'milestone' or type == \"approval\"", { type: "approval" }), true);
  assert.equal(when("owner.gid != null", { owner: { gid: "7" } }), true);
  assert.equal(when("owner == null", { owner: null }), true);
  assert.equal(when("(a or b) and not c", { a: false, b: 1, c: 0 }), true);
  assert.equal(when("a or b and c", { a: true, b: false, c: false }), true, "and binds tighter");
  assert.equal(when("n > 2", { n: 10n }), true, "a bigint compares as a number");
  assert.equal(when("n == 10", { n: 10n }), true);
  assert.equal(when("n > 2", { n: "10" }), false, "a string is not ordered against a number");
  assert.equal(when("name < 'b'", { name: "a" }), true);
});

Deno.test("a missing field is unknown, and unknown never skips a request", () => {
  assert.equal(when("num_subtasks > 0", {}), undefined);
  assert.equal(when("not num_subtasks", {}), undefined);
  assert.equal(when("x and y", { x: false }), false, "false and unknown is false");
  assert.equal(when("x or y", { x: true }), true, "true or unknown is true");
  assert.equal(when("x or y", { x: false }), undefined);
  assert.equal(when("x and y", { x: true }), undefined);
});

Deno.test("syntax errors carry the offset of the offending token", () => {
  const offsetOf = (text: string) => {
    try {
      parsePredicate(text);
    } catch (e) {
      assert.ok(e instanceof PredicateError);
      return [e.offset, e.message];
    }
    assert.fail(`"${text}" parsed`);
  };
  assert.deepEqual(offsetOf("num_subtasks >"), [
    14,
    "expected a number, a quoted string, true, false or null, found the end",
  ]);
  assert.deepEqual(offsetOf("a > 1 b"), [6, 'expected "and", "or" or the end, found "b"']);
  assert.deepEqual(offsetOf("(a"), [2, 'expected ")", found the end']);
  assert.deepEqual(offsetOf("a = 1"), [2, 'unexpected "="']);
  assert.deepEqual(offsetOf("a == 'x"), [5, "unterminated string"]);
  assert.deepEqual(offsetOf("> 1"), [0, 'expected a field name, found ">"']);
  assert.deepEqual(offsetOf("a == b"), [
    5,
    'expected a number, a quoted string, true, false or null, found "b"',
  ]);
});

const SPEC = `pipeline: p
dataset: p_data
source:
  base_url: https://api.example.com
defaults:
  primary_key: gid
resources:
  tasks:
    path: /tasks
    fields: [gid, name, num_subtasks]
  subtasks:
    path: /tasks/{parent.gid}/subtasks
    parent: [tasks, subtasks]
    fields: [gid, num_subtasks]
    WHEN
`;

function errorsOf(whenLine: string): string[] {
  try {
    parseSpec(SPEC.replace("WHEN", whenLine), "p.yaml", { configDir: "/x" });
  } catch (e) {
    if (e instanceof SpecError) return e.message.split("\n");
    throw e;
  }
  return [];
}

Deno.test("when: in a spec is checked with file:line:column inside the expression", () => {
  assert.deepEqual(errorsOf("when: num_subtasks > 0"), []);
  assert.deepEqual(errorsOf('when: "num_subtasks >"'), [
    "p.yaml:15:26 resources.subtasks.when: when: expected a number, a quoted string, true, false or null, found the end",
  ]);
  // a field the parent does not request would make every check unknown: refused
  assert.deepEqual(errorsOf("when: num_subtask > 0"), [
    'p.yaml:15:11 resources.subtasks.when: when: tasks does not request field "num_subtask"; did you mean "num_subtasks"? (without it every request would be made)',
    'p.yaml:15:11 resources.subtasks.when: when: subtasks does not request field "num_subtask"; did you mean "num_subtasks"? (without it every request would be made)',
  ]);
  assert.deepEqual(errorsOf("when: { tasks: num_subtasks > 0, projects: archived }"), [
    'p.yaml:15:38 resources.subtasks.when.projects: "projects" is not a parent of this resource',
  ]);
  assert.deepEqual(errorsOf("when: { tasks: name == 'x' }"), []);
});

Deno.test("a resource without a parent cannot have when:", () => {
  const text = SPEC.replace("WHEN", "").replace(
    "    fields: [gid, name, num_subtasks]\n",
    "    fields: [gid, name, num_subtasks]\n    when: name\n",
  );
  assert.throws(
    () => parseSpec(text, "p.yaml", { configDir: "/x" }),
    /p\.yaml:11:5 resources\.tasks\.when: when: decides per parent record; this resource has no parent/,
  );
});

Deno.test("the plan holds one predicate per parent; a map leaves other parents unconditional", () => {
  const all = buildPlan(
    parseSpec(SPEC.replace("WHEN", "when: num_subtasks > 0"), "p.yaml", {
      configDir: "/x",
    }).spec,
  );
  assert.deepEqual([...all.resources.get("subtasks")!.when.keys()], ["tasks", "subtasks"]);
  const one = buildPlan(
    parseSpec(SPEC.replace("WHEN", "when: { tasks: num_subtasks > 0 }"), "p.yaml", {
      configDir: "/x",
    }).spec,
  );
  assert.deepEqual([...one.resources.get("subtasks")!.when.keys()], ["tasks"]);
});
