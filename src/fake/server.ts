/**
 * A fake Asana API on 127.0.0.1, faithful to the real one where an extractor can
 * tell (../shared/reference/asana/API_NOTES.md): the `{data}` envelope, compact
 * listings, `opt_fields`, `limit` 1..100, opaque expiring offset tokens,
 * `next_page` only when `limit` is sent, 401/400/404 bodies, and a ground-truth view.
 *
 * @module
 */
import { type AsanaObject, FakeData, type FakeDataOptions, Ref } from "./data.ts";
import { parseOptFields, Renderer } from "./render.ts";

/** Options for {@linkcode startFakeAsana}. */
export interface FakeAsanaOptions extends FakeDataOptions {
  /** The token clients must send (default "fake-token-0123456789"). */
  token?: string;
  /** How long an offset token lives, in milliseconds (default 15 minutes). */
  offsetTtlMs?: number;
  /** Delay before each response, in milliseconds (default 0). */
  latencyMs?: number;
  /** Uniform jitter added to the latency: ± this many milliseconds (default 0). */
  jitterMs?: number;
  /**
   * Requests allowed per token in a sliding window, as Asana's per-minute quota (1,500 a
   * minute on paid plans, 150 on free ones). Rejected requests count too. Default: none.
   */
  rateLimit?: { requests: number; windowMs?: number };
  /** GETs in flight per token before a 429 (Asana: 50). Default: none. */
  maxInFlight?: number;
  /** Share of requests (0..1) answered with 500, 502, 503 or a dropped connection. */
  faultRate?: number;
  /** A premium (paid) organisation: goals, portfolios and dependencies answer; else 402. */
  premium?: boolean;
}

/** What the fake saw, for tests and benchmarks. */
export interface FakeStats {
  requests: number;
  /** 429s sent (rate or concurrency). */
  throttled: number;
  /** Injected 5xx and dropped connections. */
  faults: number;
  /** The most requests in flight at once. */
  peakInFlight: number;
  /** Expired offset tokens refused. */
  expired: number;
  /** When the first request arrived and the last response left (ms since the epoch; 0: none). */
  firstRequestAt: number;
  lastResponseAt: number;
}

/** A fault rule: requests whose path matches answer with this status. */
export interface FaultRule {
  match: RegExp;
  status: number;
}

/** A running fake. */
export interface FakeAsana {
  /** `http://127.0.0.1:PORT/api/1.0` */
  baseUrl: string;
  token: string;
  data: FakeData;
  /** Requests served, by route pattern. */
  requests: Map<string, number>;
  /** Faults to inject; edit at will. */
  faults: FaultRule[];
  /** Counters. */
  stats: FakeStats;
  /** Row counts of the eight seed resources as a full load should find them. */
  groundTruth(): Record<string, number>;
  close(): Promise<void>;
}

const HELP =
  "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors";

class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=UTF-8", ...headers },
  });
}

function errorBody(message: string, status: number): unknown {
  const error: Record<string, string> = { message, help: HELP };
  if (status >= 500) error.phrase = "6 sad squid snuggle softly";
  return { errors: [error] };
}

/** Starts the fake on a random loopback port. */
export function startFakeAsana(options: FakeAsanaOptions = {}): Promise<FakeAsana> {
  const data = new FakeData(options);
  const token = options.token ?? "fake-token-0123456789";
  const ttl = options.offsetTtlMs ?? 15 * 60_000;
  const renderer = new Renderer(data.objects);
  const requests = new Map<string, number>();
  const faults: FaultRule[] = [];
  const secret = crypto.randomUUID();

  const sign = (payload: string) => {
    let h = 0;
    for (const c of secret + payload) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
    return (h >>> 0).toString(36);
  };
  const makeToken = (position: number, scope: string) => {
    const payload = btoa(JSON.stringify({ p: position, e: Date.now() + ttl, s: scope }))
      .replaceAll("=", "");
    return `${payload}.${sign(payload)}`;
  };
  const readToken = (tokenText: string, scope: string): number => {
    const [payload, signature] = tokenText.split(".");
    let parsed: { p: number; e: number; s: string } | undefined;
    try {
      if (payload && signature === sign(payload)) parsed = JSON.parse(atob(payload));
    } catch { /* invalid below */ }
    if (!parsed || parsed.s !== scope) {
      throw new ApiError(400, "offset: Your pagination token is invalid.");
    }
    if (parsed.e < Date.now()) {
      stats.expired++;
      throw new ApiError(400, "offset: Your pagination token has expired.");
    }
    return parsed.p;
  };

  const get = (gid: string, type: string, param: string): AsanaObject => {
    if (!/^\d+$/.test(gid)) throw new ApiError(400, `${param}: Not a Long`);
    const obj = data.objects.get(gid);
    if (!obj || obj.resource_type !== type) {
      throw new ApiError(404, `${type}: Unknown object: ${gid}`);
    }
    return obj;
  };
  const refIs = (value: unknown, gid: string) => value instanceof Ref && value.gid === gid;

  /** A listing: limit, offset, opt_fields, next_page. */
  const list = (url: URL, route: string, items: AsanaObject[]): Response => {
    const q = url.searchParams;
    const limitText = q.get("limit");
    let limit: number | undefined;
    if (limitText !== null) {
      limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        throw new ApiError(400, "limit: The limit value must be between 1 and 100.");
      }
    }
    const scope = [...q.entries()]
      .filter(([k]) => k !== "offset" && k !== "limit" && k !== "opt_fields" && k !== "opt_pretty")
      .map(([k, val]) => `${k}=${val}`)
      .sort()
      .join("&") + `|${url.pathname}`;
    const offsetText = q.get("offset");
    const start = offsetText === null ? 0 : readToken(offsetText, scope);
    if (limit === undefined && items.length > 1000) {
      throw new ApiError(
        400,
        "The result is too large. You should use pagination (may require specifying a workspace)!",
      );
    }
    const end = limit === undefined ? items.length : Math.min(items.length, start + limit);
    const fields = q.get("opt_fields");
    const tree = fields ? parseOptFields(fields) : undefined;
    const page = items.slice(start, end).map((o) =>
      tree ? renderer.project(o, tree) : renderer.compact(o)
    );
    const body: Record<string, unknown> = { data: page };
    if (limit !== undefined) {
      if (end < items.length) {
        const offset = makeToken(end, scope);
        const next = new URL(url);
        next.searchParams.set("offset", offset);
        const path = next.pathname.replace(/^\/api\/1\.0/, "") + next.search;
        body.next_page = { offset, path, uri: next.toString() };
      } else {
        body.next_page = null;
      }
    }
    requests.set(route, (requests.get(route) ?? 0) + 1);
    noteListing(url, route, items.length);
    return json(200, body);
  };

  /**
   * Every distinct listing served (path and params, without paging, fields or
   * `modified_since`) with the most records it held: the data's request floor is one
   * request per 100 records of each listing that held any.
   */
  const listings = new Map<string, { route: string; size: number }>();
  const noteListing = (url: URL, route: string, size: number) => {
    const key = url.pathname + "?" + [...url.searchParams.entries()]
      .filter(([k]) =>
        !["offset", "limit", "opt_fields", "opt_pretty", "modified_since"].includes(k)
      )
      .map(([k, v]) => `${k}=${v}`).sort().join("&");
    listings.set(key, { route, size: Math.max(listings.get(key)?.size ?? 0, size) });
  };
  /** The request floor of the listings served so far, per route pattern. */
  const requestFloorByRoute = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const { route, size } of listings.values()) {
      out[route] = (out[route] ?? 0) + Math.ceil(size / 100);
    }
    return out;
  };
  const requestFloor = () => Object.values(requestFloorByRoute()).reduce((a, b) => a + b, 0);

  const single = (url: URL, route: string, obj: AsanaObject): Response => {
    const fields = url.searchParams.get("opt_fields");
    requests.set(route, (requests.get(route) ?? 0) + 1);
    noteListing(url, route, 1);
    return json(200, {
      data: fields ? renderer.project(obj, parseOptFields(fields)) : renderer.full(obj),
    });
  };

  const tasksQuery = (url: URL): AsanaObject[] => {
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
      tasks = tasks.filter((task) =>
        !task.completed || Date.parse(task.completed_at as string) >= t
      );
    }
    return tasks;
  };

  type Handler = (url: URL, params: string[]) => Response;
  const routes: [string, RegExp, Handler][] = [];
  const route = (pattern: string, handler: Handler) => {
    const re = new RegExp("^/api/1\\.0" + pattern.replace(/\{[a-z_]+\}/g, "([^/]+)") + "/?$");
    routes.push([pattern, re, handler]);
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
    const syncText = u.searchParams.get("sync");
    const parsed = syncText?.match(/^([0-9a-f]{8}):(\d+)$/);
    const fresh = `${secret.slice(0, 8)}:${data.events.length}`;
    if (!parsed || parsed[1] !== secret.slice(0, 8) || Number(parsed[2]) > data.events.length) {
      requests.set("/events", (requests.get("/events") ?? 0) + 1);
      return json(412, {
        errors: [{
          message:
            "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full dataset for this query now and use the new sync token for the next sync.",
        }],
        sync: fresh,
      });
    }
    const relevant = data.events.filter((e) =>
      e.seq > Number(parsed[2]) &&
      (e.projects.includes(resource) || (e.body.resource as { gid: string }).gid === resource)
    );
    const page = relevant.slice(0, 100);
    const last = page.length === 100 ? page[99].seq : data.events.length;
    requests.set("/events", (requests.get("/events") ?? 0) + 1);
    return json(200, {
      data: page.map((e) => e.body),
      sync: `${secret.slice(0, 8)}:${last}`,
      has_more: relevant.length > 100,
    });
  });
  const premium = options.premium ?? true;
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

  const stats: FakeStats = {
    requests: 0,
    throttled: 0,
    faults: 0,
    peakInFlight: 0,
    expired: 0,
    firstRequestAt: 0,
    lastResponseAt: 0,
  };
  const window: number[] = [];
  let inFlight = 0;
  const throttle = (): Response | undefined => {
    const now = Date.now();
    const limit = options.rateLimit;
    let wait = 0;
    if (limit) {
      const span = limit.windowMs ?? 60_000;
      while (window.length > 0 && window[0] <= now - span) window.shift();
      window.push(now); // rejected requests count against the quota too
      if (window.length > limit.requests) {
        wait = window[window.length - 1 - limit.requests] + span - now;
      }
    }
    if (options.maxInFlight !== undefined && inFlight > options.maxInFlight) {
      wait = Math.max(wait, 1000);
    }
    if (wait <= 0) return undefined;
    stats.throttled++;
    return json(429, {
      errors: [{
        message:
          "You've made too many requests and hit a rate limit. Please retry after the given amount of time.",
      }],
    }, { "retry-after": String(Math.max(1, Math.ceil(wait / 1000))) });
  };
  const fault = (): Response | undefined => {
    if (!options.faultRate || Math.random() >= options.faultRate) return undefined;
    stats.faults++;
    const kind = Math.floor(Math.random() * 4);
    if (kind < 3) {
      const status = [500, 502, 503][kind];
      return json(status, errorBody(status === 500 ? "Server Error" : "Bad Gateway", status));
    }
    // a dropped connection: headers, then half a body, then the stream breaks
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"data":[{"gid":'));
        controller.error(new Error("connection reset"));
      },
    });
    return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
  };
  const delay = () => {
    const ms = (options.latencyMs ?? 0) + (Math.random() * 2 - 1) * (options.jitterMs ?? 0);
    return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
  };

  const handle = async (req: Request): Promise<Response> => {
    const control = new URL(req.url);
    if (control.pathname === "/__fake/stats") {
      return json(200, {
        ...stats,
        truth: groundTruth(),
        requestFloor: requestFloor(),
        requestFloorByRoute: requestFloorByRoute(),
        requestsByRoute: Object.fromEntries(requests),
        subtaskDepth: subtaskDepth(),
      });
    }
    if (control.pathname === "/__fake/mutate") {
      // changes a share of the organisation (see FakeData.mutate); answers what changed
      const q = control.searchParams;
      const num = (k: string) => {
        const v = q.get(k);
        if (v === null) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new RangeError(`__fake/mutate: bad ${k}=${v}`);
        return n;
      };
      try {
        const m = data.mutate({
          touch: num("touch"),
          add: num("add"),
          remove: num("remove"),
          stories: num("stories"),
        });
        return json(200, { ...m, truth: groundTruth() });
      } catch (e) {
        return json(400, { errors: [{ message: (e as Error).message }] });
      }
    }
    stats.requests++;
    if (stats.firstRequestAt === 0) stats.firstRequestAt = Date.now();
    inFlight++;
    stats.peakInFlight = Math.max(stats.peakInFlight, inFlight);
    try {
      return await respond(req);
    } finally {
      inFlight--;
      stats.lastResponseAt = Date.now();
    }
  };
  const respond = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (req.headers.get("authorization") !== `Bearer ${token}`) {
      await delay();
      return json(401, errorBody("Not Authorized", 401));
    }
    const limited = throttle();
    await delay();
    if (limited) return limited;
    const broken = fault();
    if (broken) return broken;
    try {
      if (req.method !== "GET") throw new ApiError(404, "No matching route for request");
      for (const fault of faults) {
        if (fault.match.test(url.pathname)) {
          throw new ApiError(fault.status, fault.status >= 500 ? "Server Error" : "Injected fault");
        }
      }
      for (const [, re, handler] of routes) {
        const m = url.pathname.match(re);
        if (m) return handler(url, m.slice(1).map(decodeURIComponent));
      }
      throw new ApiError(404, "No matching route for request");
    } catch (e) {
      if (e instanceof ApiError) return json(e.status, errorBody(e.message, e.status));
      if (Deno.env.get("FAKE_DEBUG")) console.error(e);
      return json(500, errorBody("Server Error", 500));
    }
  };

  /** The deepest nesting of subtasks below a listed task (1: subtasks without subtasks). */
  const subtaskDepth = (): number => {
    const depth = (gid: string): number =>
      1 + Math.max(0, ...(data.subtasksOf.get(gid) ?? []).map(depth));
    let most = 0;
    for (const tasks of data.tasksOf.values()) {
      for (const t of tasks) most = Math.max(most, depth(t) - 1);
    }
    return most;
  };

  /** The subtasks below these tasks, at every depth. */
  const subtasksBelow = (tasks: Iterable<string>): Set<string> => {
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
  };

  const groundTruth = (): Record<string, number> => {
    const listed = new Set<string>();
    for (const tasks of data.tasksOf.values()) for (const t of tasks) listed.add(t);
    // stories of listed tasks and of their subtasks at every depth
    const subtasks = subtasksBelow(listed);
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
      ...moreTruth(listed, subtasks, all, orgs),
    };
  };

  /** Row counts of the resources beyond the seed's eight. */
  const moreTruth = (
    listed: Set<string>,
    subtasks: Set<string>,
    all: Set<string>,
    orgs: string[],
  ): Record<string, number> => {
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
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        resolve({
          baseUrl: `http://127.0.0.1:${port}/api/1.0`,
          token,
          data,
          requests,
          faults,
          stats,
          groundTruth,
          close: () => server.shutdown(),
        });
      },
    }, handle);
  });
}

function filterArchived(url: URL, projects: AsanaObject[]): AsanaObject[] {
  const archived = url.searchParams.get("archived");
  if (archived === null) return projects;
  return projects.filter((p) => p.archived === (archived === "true"));
}
