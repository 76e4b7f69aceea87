/**
 * Ground truth: what a full load of the fake's organisation should find, table by table.
 *
 * @module
 */
import { type AsanaObject, type FakeData, Ref } from "./data.ts";

/** The deepest nesting of subtasks below a listed task (1: subtasks without subtasks). */
export function subtaskDepth(data: FakeData): number {
  const depth = (gid: string): number =>
    1 + Math.max(0, ...(data.subtasksOf.get(gid) ?? []).map(depth));
  let most = 0;
  for (const tasks of data.tasksOf.values()) {
    for (const t of tasks) most = Math.max(most, depth(t) - 1);
  }
  return most;
}

/** The subtasks below these tasks, at every depth. */
function subtasksBelow(data: FakeData, tasks: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const walk = (gid: string) => {
    for (const s of data.subtasksOf.get(gid) ?? []) {
      if (!out.has(s)) {
        out.add(s);
        walk(s);
      }
    }
  };
  for (const t of tasks) walk(t);
  return out;
}

/** Row counts of every resource as a full load should find them. */
export function groundTruth(data: FakeData, premium: boolean): Record<string, number> {
  const refIs = (value: unknown, gid: string) => value instanceof Ref && value.gid === gid;
  const listed = new Set<string>();
  for (const tasks of data.tasksOf.values()) for (const t of tasks) listed.add(t);
  // tasks in no project, listed by their assignee's tasks (My Tasks) in the workspace
  for (const t of data.all("task")) {
    if ((t.projects as Ref[]).length > 0 || t.parent instanceof Ref) continue;
    const assignee = t.assignee instanceof Ref ? data.objects.get(t.assignee.gid) : undefined;
    if (assignee && (assignee.workspaces as Ref[]).some((w) => refIs(t.workspace, w.gid))) {
      listed.add(t.gid);
    }
  }
  // stories of listed tasks and of their subtasks at every depth
  const subtasks = subtasksBelow(data, listed);
  const all = new Set([...listed, ...subtasks]);
  let stories = 0;
  for (const t of all) stories += data.storiesOf.get(t)?.length ?? 0;
  const orgs = data.all("workspace").filter((w) => w.is_organization).map((w) => w.gid);
  return {
    workspaces: data.all("workspace").length,
    projects: data.all("project").length,
    sections: data.all("section").length,
    tags: data.all("tag").length,
    tasks: listed.size,
    stories,
    teams: data.all("team").filter((t) => orgs.some((o) => refIs(t.organization, o))).length,
    users: data.all("user").length,
    ...moreTruth(data, premium, listed, subtasks, all, orgs),
  };
}

/** Row counts of the resources beyond the seed's eight. */
function moreTruth(
  data: FakeData,
  premium: boolean,
  listed: Set<string>,
  subtasks: Set<string>,
  all: Set<string>,
  orgs: string[],
): Record<string, number> {
  const refIs = (value: unknown, gid: string) => value instanceof Ref && value.gid === gid;
  const listedParent = (o: AsanaObject) => {
    const p = o.parent as Ref;
    return all.has(p.gid) || data.objects.get(p.gid)?.resource_type === "project";
  };
  const portfolios = data.all("portfolio");
  const items = new Set(
    portfolios.flatMap((p) => (p.items as Ref[]).map((r) => `${p.gid}/${r.gid}`)),
  );
  let dependencies = 0;
  for (const t of listed) dependencies += (data.objects.get(t)!.dependencies as Ref[]).length;
  const updates = data.all("status_update").filter((s) =>
    premium || data.objects.get((s.parent as Ref).gid)?.resource_type === "project"
  );
  return {
    subtasks: subtasks.size,
    custom_fields:
      data.all("custom_field").filter((c) => orgs.some((o) => refIs(c.workspace, o))).length,
    custom_field_settings:
      data.all("custom_field_setting").filter((c) =>
        data.objects.get((c.parent as Ref).gid)?.resource_type === "project"
      ).length,
    portfolio_custom_field_settings: premium
      ? data.all("custom_field_setting").filter((c) =>
        data.objects.get((c.parent as Ref).gid)?.resource_type === "portfolio"
      ).length
      : 0,
    attachments: data.all("attachment").filter(listedParent).length,
    project_memberships: data.all("project_membership").length,
    team_memberships: data.all("team_membership").length,
    workspace_memberships: data.all("workspace_membership").length,
    portfolios: premium ? portfolios.length : 0,
    portfolio_items: premium ? items.size : 0,
    goals: premium ? data.all("goal").length : 0,
    status_updates: updates.length,
    time_tracking_entries:
      data.all("time_tracking_entry").filter((e) => all.has((e.task as Ref).gid)).length,
    task_dependencies: premium ? dependencies : 0,
    user_task_lists: data.all("user_task_list").length,
    time_periods: data.all("time_period").length,
    portfolio_memberships: premium ? data.all("portfolio_membership").length : 0,
    goal_relationships: premium ? data.all("goal_relationship").length : 0,
    goal_memberships: premium ? data.all("membership").length : 0,
    time_tracking_categories: data.all("time_tracking_category").length,
    project_templates: data.all("project_template").length,
  };
}
