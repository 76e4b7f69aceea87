/**
 * The fake's route table: every Asana endpoint it answers, with Asana's parameter
 * checks and error messages.
 *
 * @module
 */
import { type AsanaObject, type FakeData, Ref } from "./data.ts";
import { ApiError, json } from "./respond.ts";

/** Answers one request whose path matched a route; `params` are the path's `{…}` parts. */
export type Handler = (url: URL, params: string[]) => Response;

/** One route: its pattern as the docs write it, the pattern as a regular expression, its handler. */
export interface Route {
  pattern: string;
  re: RegExp;
  handler: Handler;
}

/** What the routes need from the rest of the fake. */
export interface RouteKit {
  data: FakeData;
  /** A paged listing of these objects (limit, offset tokens, opt_fields). */
  list: (url: URL, route: string, items: AsanaObject[]) => Response;
  /** One object, full or projected. */
  single: (url: URL, route: string, obj: AsanaObject) => Response;
  /** Counts a request answered without `list` or `single`. */
  count: (route: string) => void;
  /** A premium organisation (goals, portfolios and dependencies answer; else 402). */
  premium: boolean;
  /** The prefix of this fake's sync tokens (events API). */
  syncPrefix: string;
}

/** How long an events sync token lives: 24 hours of the fake's clock, as Asana says. */
export const EVENTS_TOKEN_LIFE_MS = 24 * 3600_000;

/** Builds the route table over the fake's data. */
export function asanaRoutes(kit: RouteKit): Route[] {
  const { data, list, single, count, premium, syncPrefix } = kit;
  const get = (gid: string, type: string, param: string) => objectOf(data, gid, type, param);
  const refIs = (value: unknown, gid: string) => value instanceof Ref && value.gid === gid;
  const tasksQuery = (url: URL) => queryTasks(data, url);
  const routes: Route[] = [];
  const route = (pattern: string, handler: Handler) => {
    const re = new RegExp("^/api/1\\.0" + pattern.replace(/\{[a-z_]+\}/g, "([^/]+)") + "/?$");
    routes.push({ pattern, re, handler });
  };
  const inWorkspace = (type: string, ws: string) =>
    data.all(type).filter((o) => refIs(o.workspace, ws) || refIs(o.organization, ws));

  route("/workspaces", (u) => list(u, "/workspaces", data.all("workspace")));
  route(
    "/workspaces/{gid}",
    (u, [g]) => single(u, "/workspaces/{gid}", get(g, "workspace", "workspace")),
  );
  route("/workspaces/{gid}/teams", (u, [g]) => {
    const ws = get(g, "workspace", "workspace");
    return list(u, "/workspaces/{gid}/teams", ws.is_organization ? inWorkspace("team", g) : []);
  });
  route("/workspaces/{gid}/projects", (u, [g]) => {
    get(g, "workspace", "workspace");
    return list(u, "/workspaces/{gid}/projects", filterArchived(u, inWorkspace("project", g)));
  });
  route("/workspaces/{gid}/tags", (u, [g]) => {
    get(g, "workspace", "workspace");
    return list(u, "/workspaces/{gid}/tags", inWorkspace("tag", g));
  });
  route("/workspaces/{gid}/custom_fields", (u, [g]) => {
    get(g, "workspace", "workspace");
    return list(u, "/workspaces/{gid}/custom_fields", inWorkspace("custom_field", g));
  });
  route("/users", (u) => {
    const ws = u.searchParams.get("workspace");
    let users = data.all("user");
    if (ws !== null) {
      get(ws, "workspace", "workspace");
      users = users.filter((x) => (x.workspaces as Ref[]).some((r) => r.gid === ws));
    }
    return list(u, "/users", users);
  });
  route(
    "/users/{gid}",
    (u, [g]) =>
      single(u, "/users/{gid}", g === "me" ? data.all("user")[0] : get(g, "user", "user")),
  );
  route("/teams/{gid}", (u, [g]) => single(u, "/teams/{gid}", get(g, "team", "team")));
  route("/teams/{gid}/projects", (u, [g]) => {
    get(g, "team", "team");
    return list(
      u,
      "/teams/{gid}/projects",
      filterArchived(u, data.all("project").filter((p) => refIs(p.team, g))),
    );
  });
  route("/projects", (u) => {
    const ws = u.searchParams.get("workspace");
    const team = u.searchParams.get("team");
    let projects = data.all("project");
    if (ws !== null) {
      projects = projects.filter((p) => refIs(p.workspace, get(ws, "workspace", "workspace").gid));
    }
    if (team !== null) {
      projects = projects.filter((p) => refIs(p.team, get(team, "team", "team").gid));
    }
    return list(u, "/projects", filterArchived(u, projects));
  });
  route("/projects/{gid}", (u, [g]) => single(u, "/projects/{gid}", get(g, "project", "project")));
  route("/projects/{gid}/sections", (u, [g]) => {
    get(g, "project", "project");
    return list(
      u,
      "/projects/{gid}/sections",
      data.all("section").filter((s) => refIs(s.project, g)),
    );
  });
  route("/projects/{gid}/tasks", (u, [g]) => {
    get(g, "project", "project");
    return list(
      u,
      "/projects/{gid}/tasks",
      (data.tasksOf.get(g) ?? []).map((t) => data.objects.get(t)!),
    );
  });
  route("/sections/{gid}", (u, [g]) => single(u, "/sections/{gid}", get(g, "section", "section")));
  route("/tags", (u) => {
    const ws = u.searchParams.get("workspace");
    const tags = ws === null
      ? data.all("tag")
      : inWorkspace("tag", get(ws, "workspace", "workspace").gid);
    return list(u, "/tags", tags);
  });
  route("/tags/{gid}", (u, [g]) => single(u, "/tags/{gid}", get(g, "tag", "tag")));
  route("/tasks", (u) => list(u, "/tasks", tasksQuery(u)));
  route("/tasks/{gid}", (u, [g]) => single(u, "/tasks/{gid}", get(g, "task", "task")));
  route("/tasks/{gid}/stories", (u, [g]) => {
    get(g, "task", "task");
    return list(
      u,
      "/tasks/{gid}/stories",
      (data.storiesOf.get(g) ?? []).map((s) => data.objects.get(s)!),
    );
  });
  route("/tasks/{gid}/subtasks", (u, [g]) => {
    get(g, "task", "task");
    return list(
      u,
      "/tasks/{gid}/subtasks",
      (data.subtasksOf.get(g) ?? []).map((s) => data.objects.get(s)!),
    );
  });
  route("/events", (u) => {
    const resource = u.searchParams.get("resource");
    if (resource === null) throw new ApiError(400, "resource: Missing input");
    const target = data.objects.get(resource);
    if (!target) throw new ApiError(404, `resource: Unknown object: ${resource}`);
    // a token is `prefix:seq:issued`: the last event it has seen, and when it was given
    // (the fake's clock); it expires 24 hours after that, as Asana's do
    const syncText = u.searchParams.get("sync");
    const parsed = syncText?.match(/^([0-9a-f]{8}):(\d+):(\d+)$/);
    const now = data.now();
    const token = (seq: number) => `${syncPrefix}:${seq}:${now}`;
    // events still on their way (eventDelayMs) are not in the stream yet
    const visible = data.visibleEvents();
    const tooOld = parsed !== null && parsed !== undefined &&
      now - Number(parsed[3]) > EVENTS_TOKEN_LIFE_MS;
    if (
      !parsed || parsed[1] !== syncPrefix || Number(parsed[2]) > visible || tooOld
    ) {
      count("/events");
      return json(412, {
        errors: [{
          message:
            "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full dataset for this query now and use the new sync token for the next sync.",
        }],
        sync: token(visible),
      });
    }
    const relevant = data.events.slice(0, visible).filter((e) =>
      e.seq > Number(parsed[2]) &&
      (e.projects.includes(resource) || (e.body.resource as { gid: string }).gid === resource)
    );
    const page = relevant.slice(0, 100);
    const last = page.length === 100 ? page[99].seq : visible;
    count("/events");
    return json(200, {
      data: page.map((e) => e.body),
      sync: token(last),
      has_more: relevant.length > 100,
    });
  });
  const paid = (feature: string) => {
    if (!premium) throw new ApiError(402, `${feature} are only available to premium users.`);
  };
  const required = (u: URL, param: string): string => {
    const value = u.searchParams.get(param);
    if (value === null || value === "") throw new ApiError(400, `${param}: Missing input`);
    return value;
  };
  const byRef = (type: string, field: string, gid: string) =>
    data.all(type).filter((o) => refIs(o[field], gid));
  route("/attachments", (u) => {
    const parent = required(u, "parent");
    const target = data.objects.get(parent);
    if (!target) throw new ApiError(404, `parent: Unknown object: ${parent}`);
    return list(u, "/attachments", byRef("attachment", "parent", parent));
  });
  route("/projects/{gid}/custom_field_settings", (u, [g]) => {
    const p = get(g, "project", "project");
    return list(
      u,
      "/projects/{gid}/custom_field_settings",
      (p.custom_field_settings as Ref[]).map((r) => data.objects.get(r.gid)!),
    );
  });
  route("/portfolios/{gid}/custom_field_settings", (u, [g]) => {
    const p = get(g, "portfolio", "portfolio");
    paid("Portfolios");
    return list(
      u,
      "/portfolios/{gid}/custom_field_settings",
      (p.custom_field_settings as Ref[]).map((r) => data.objects.get(r.gid)!),
    );
  });
  route("/projects/{gid}/project_memberships", (u, [g]) => {
    get(g, "project", "project");
    return list(u, "/projects/{gid}/project_memberships", byRef("project_membership", "parent", g));
  });
  route("/teams/{gid}/team_memberships", (u, [g]) => {
    get(g, "team", "team");
    return list(u, "/teams/{gid}/team_memberships", byRef("team_membership", "team", g));
  });
  route("/workspaces/{gid}/workspace_memberships", (u, [g]) => {
    get(g, "workspace", "workspace");
    return list(
      u,
      "/workspaces/{gid}/workspace_memberships",
      byRef("workspace_membership", "workspace", g),
    );
  });
  route("/portfolios", (u) => {
    const ws = get(required(u, "workspace"), "workspace", "workspace");
    paid("Portfolios");
    const owner = u.searchParams.get("owner");
    const me = data.all("user")[0].gid;
    // a personal access token sees only the portfolios its user owns
    const who = owner === null || owner === "me" ? me : owner;
    return list(
      u,
      "/portfolios",
      byRef("portfolio", "workspace", ws.gid).filter((p) => refIs(p.owner, who)),
    );
  });
  route("/portfolios/{gid}/items", (u, [g]) => {
    const p = get(g, "portfolio", "portfolio");
    paid("Portfolios");
    return list(
      u,
      "/portfolios/{gid}/items",
      (p.items as Ref[]).map((r) => data.objects.get(r.gid)!),
    );
  });
  route("/goals", (u) => {
    paid("Goals");
    const ws = u.searchParams.get("workspace");
    const goals = ws === null ? data.all("goal") : byRef("goal", "workspace", ws);
    return list(u, "/goals", goals);
  });
  route("/time_periods", (u) => {
    const ws = get(required(u, "workspace"), "workspace", "workspace");
    return list(u, "/time_periods", byRef("time_period", "workspace", ws.gid));
  });
  route("/portfolios/{gid}/portfolio_memberships", (u, [g]) => {
    get(g, "portfolio", "portfolio");
    paid("Portfolios");
    return list(
      u,
      "/portfolios/{gid}/portfolio_memberships",
      byRef("portfolio_membership", "portfolio", g),
    );
  });
  route("/goal_relationships", (u) => {
    paid("Goals");
    const goal = get(required(u, "supported_goal"), "goal", "supported_goal");
    return list(u, "/goal_relationships", byRef("goal_relationship", "supported_goal", goal.gid));
  });
  route("/memberships", (u) => {
    const parent = required(u, "parent");
    const target = data.objects.get(parent);
    if (!target) throw new ApiError(404, `parent: Unknown object: ${parent}`);
    if (target.resource_type === "goal") paid("Goals");
    return list(u, "/memberships", byRef("membership", "parent", parent));
  });
  route("/time_tracking_categories", (u) => {
    const ws = get(required(u, "workspace"), "workspace", "workspace");
    return list(
      u,
      "/time_tracking_categories",
      byRef("time_tracking_category", "workspace", ws.gid),
    );
  });
  route("/project_templates", (u) => {
    const ws = get(required(u, "workspace"), "workspace", "workspace");
    return list(u, "/project_templates", byRef("project_template", "workspace", ws.gid));
  });
  route("/status_updates", (u) => {
    const parent = required(u, "parent");
    if (!data.objects.get(parent)) throw new ApiError(404, `parent: Unknown object: ${parent}`);
    return list(u, "/status_updates", byRef("status_update", "parent", parent));
  });
  route("/tasks/{gid}/tags", (u, [g]) => {
    const t = get(g, "task", "task");
    return list(u, "/tasks/{gid}/tags", (t.tags as Ref[]).map((r) => data.objects.get(r.gid)!));
  });
  route("/tasks/{gid}/time_tracking_entries", (u, [g]) => {
    get(g, "task", "task");
    return list(u, "/tasks/{gid}/time_tracking_entries", byRef("time_tracking_entry", "task", g));
  });
  for (const kind of ["dependencies", "dependents"] as const) {
    route(`/tasks/{gid}/${kind}`, (u, [g]) => {
      const t = get(g, "task", "task");
      paid("Dependencies");
      return list(
        u,
        `/tasks/{gid}/${kind}`,
        (t[kind] as Ref[]).map((r) => data.objects.get(r.gid)!),
      );
    });
  }
  route("/users/{gid}/user_task_list", (u, [g]) => {
    const user = g === "me" ? data.all("user")[0] : get(g, "user", "user");
    const ws = required(u, "workspace");
    const utl = data.all("user_task_list").find((l) =>
      refIs(l.owner, user.gid) && refIs(l.workspace, ws)
    );
    if (!utl) throw new ApiError(404, `user_task_list: Unknown object for user ${user.gid}`);
    return single(u, "/users/{gid}/user_task_list", utl);
  });
  route(
    "/user_task_lists/{gid}",
    (u, [g]) => single(u, "/user_task_lists/{gid}", get(g, "user_task_list", "user_task_list")),
  );
  route("/stories/{gid}", (u, [g]) => single(u, "/stories/{gid}", get(g, "story", "story")));
  route(
    "/custom_fields/{gid}",
    (u, [g]) => single(u, "/custom_fields/{gid}", get(g, "custom_field", "custom_field")),
  );
  return routes;
}

/** The object of this gid and type, or Asana's 400 (not a number) or 404. */
export function objectOf(data: FakeData, gid: string, type: string, param: string): AsanaObject {
  if (!/^\d+$/.test(gid)) throw new ApiError(400, `${param}: Not a Long`);
  const obj = data.objects.get(gid);
  if (!obj || obj.resource_type !== type) {
    throw new ApiError(404, `${type}: Unknown object: ${gid}`);
  }
  return obj;
}

/** `GET /tasks`: exactly one container (or assignee + workspace), `modified_since`, `completed_since`. */
function queryTasks(data: FakeData, url: URL): AsanaObject[] {
  const get = (gid: string, type: string, param: string) => objectOf(data, gid, type, param);
  const refIs = (value: unknown, gid: string) => value instanceof Ref && value.gid === gid;
  const q = url.searchParams;
  const has = (k: string) => q.has(k);
  const containers = ["project", "tag", "section", "user_task_list"].filter(has);
  if (containers.length === 0 && !has("workspace") && !has("assignee")) {
    throw new ApiError(
      400,
      "You should specify one of workspace, project, tag, section, user_task_list",
    );
  }
  const byAssignee = has("assignee") && has("workspace");
  if (containers.length + (has("assignee") ? 1 : 0) !== 1 || (has("assignee") && !byAssignee)) {
    throw new ApiError(
      400,
      "Must specify exactly one of project, tag, section, user task list, or assignee + workspace",
    );
  }
  let tasks: AsanaObject[];
  if (has("project")) {
    const p = get(q.get("project")!, "project", "project");
    tasks = (data.tasksOf.get(p.gid) ?? []).map((g) => data.objects.get(g)!);
  } else if (has("section")) {
    const s = get(q.get("section")!, "section", "section");
    tasks = data.all("task").filter((t) =>
      (t.memberships as { section: Ref }[]).some((m) => m.section.gid === s.gid)
    );
  } else if (has("tag")) {
    const tag = get(q.get("tag")!, "tag", "tag");
    tasks = data.all("task").filter((t) => (t.tags as Ref[]).some((r) => r.gid === tag.gid));
  } else if (byAssignee) {
    const ws = get(q.get("workspace")!, "workspace", "workspace");
    const who = q.get("assignee")!;
    tasks = data.all("task").filter((t) =>
      refIs(t.workspace, ws.gid) && t.assignee instanceof Ref &&
      (who === "me" ? t.assignee.gid === data.all("user")[0].gid : t.assignee.gid === who)
    );
  } else {
    throw new ApiError(400, "user_task_list: Not a recognized ID");
  }
  const since = q.get("modified_since");
  if (since !== null) {
    const t = Date.parse(since);
    if (Number.isNaN(t)) throw new ApiError(400, "modified_since: Not a valid date-time");
    tasks = tasks.filter((task) => Date.parse(task.modified_at as string) >= t);
  }
  const completedSince = q.get("completed_since");
  if (completedSince !== null) {
    const t = completedSince === "now" ? Date.now() : Date.parse(completedSince);
    tasks = tasks.filter((task) => !task.completed || Date.parse(task.completed_at as string) >= t);
  }
  return tasks;
}

function filterArchived(url: URL, projects: AsanaObject[]): AsanaObject[] {
  const archived = url.searchParams.get("archived");
  if (archived === null) return projects;
  return projects.filter((p) => p.archived === (archived === "true"));
}
