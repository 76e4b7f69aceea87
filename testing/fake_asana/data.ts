/**
 * Seeded, deterministic Asana data for the fake server: an organisation and a
 * personal workspace, teams, users, projects, sections, tasks (multi-homed, with
 * subtasks, tags, followers, custom fields), stories, unicode and large notes.
 *
 * @module
 */

/** A reference from one object to another, rendered compact or expanded. */
export class Ref {
  /** The referenced object's gid. */
  readonly gid: string;
  /** Creates a reference. */
  constructor(gid: string) {
    this.gid = gid;
  }
}

/** A stored Asana object: gid, resource_type and its full fields (references as {@linkcode Ref}). */
export type AsanaObject = { gid: string; resource_type: string } & Record<string, unknown>;

/** One change, as the events API reports it, with the projects it bubbles up to. */
export interface FakeEvent {
  seq: number;
  projects: string[];
  body: Record<string, unknown>;
  /** The fake's clock when the change was made. */
  at: number;
}

/**
 * The bench's organisation of about `tasks` tasks: projects of up to 100 tasks, ten
 * projects a team, 20 users (each with 2 tasks in no project), 10 tags, 3 stories a task.
 */
export function sizedFor(tasks: number): FakeDataOptions {
  const tasksPerProject = Math.min(100, Math.max(5, Math.round(tasks / 10)));
  const projects = Math.max(1, Math.round(tasks / tasksPerProject));
  const teams = Math.max(1, Math.ceil(projects / 10));
  return {
    teams,
    projectsPerTeam: Math.max(1, Math.round(projects / teams)),
    tasksPerProject,
    storiesPerTask: 3,
    users: 20,
    tags: 10,
    tasksInNoProject: 2,
  };
}

/** What {@linkcode FakeData.mutate} changed. */
export interface Mutations {
  touched: string[];
  added: string[];
  deleted: string[];
  storiesAddedTo: string[];
}

/** The size of the generated organisation. */
export interface FakeDataOptions {
  /** PRNG seed. */
  seed?: number;
  teams?: number;
  users?: number;
  /** Projects per team (the personal workspace gets one more). */
  projectsPerTeam?: number;
  sectionsPerProject?: number;
  tasksPerProject?: number;
  storiesPerTask?: number;
  tags?: number;
  /**
   * Tasks in no project per user of the organisation (a user's own tasks, in My Tasks
   * only), assigned to that user; default 0.
   */
  tasksInNoProject?: number;
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "roadmap",
  "launch",
  "review",
  "budget",
  "design",
  "hiring",
  "audit",
  "migration",
  "Q3",
  "onboarding",
  "café",
  "naïve",
  "日本語",
  "🚀",
  "straße",
];

/** The fake's object store, with the indexes its routes need. */
export class FakeData {
  /** Every object by gid. */
  readonly objects = new Map<string, AsanaObject>();
  /** Gids by resource_type, in creation order. */
  readonly byType = new Map<string, string[]>();
  /** Stories of each task, in order. */
  readonly storiesOf = new Map<string, string[]>();
  /** Subtasks of each task, in order. */
  readonly subtasksOf = new Map<string, string[]>();
  /** Tasks of each project, in project order. */
  readonly tasksOf = new Map<string, string[]>();
  /** Everything that changed after generation, for the events endpoint. */
  readonly events: FakeEvent[] = [];
  /**
   * While true, changes write no event (Asana delivers at most once): `eventsLost`
   * counts them. Their records still change.
   */
  dropEvents = false;
  /**
   * How long an event takes to reach the feed (Asana's may lag a few minutes): until the
   * fake's clock has moved this far past it, no sync token covers it, and then it comes
   * in its place in the stream.
   */
  eventDelayMs = 0;
  /** Events not written because `dropEvents` was set. */
  eventsLost = 0;
  #next = 1_200_000_000_000_000;
  #clock = Date.parse("2024-01-01T09:00:00.000Z");
  readonly #random: () => number;

  /** Generates the data set. */
  constructor(options: FakeDataOptions = {}) {
    this.#random = prng(options.seed ?? 42);
    this.#generate({
      teams: options.teams ?? 2,
      users: options.users ?? 6,
      projectsPerTeam: options.projectsPerTeam ?? 2,
      sectionsPerProject: options.sectionsPerProject ?? 3,
      tasksPerProject: options.tasksPerProject ?? 8,
      storiesPerTask: options.storiesPerTask ?? 3,
      tags: options.tags ?? 4,
      tasksInNoProject: options.tasksInNoProject ?? 0,
    });
  }

  /** All objects of a type, in creation order. */
  all(type: string): AsanaObject[] {
    return (this.byType.get(type) ?? []).map((g) => this.objects.get(g)!);
  }

  /** Creates an object with a new gid. */
  add(type: string, fields: Record<string, unknown>): AsanaObject {
    const gid = String(this.#next++);
    const obj: AsanaObject = { gid, resource_type: type, ...fields };
    this.objects.set(gid, obj);
    let list = this.byType.get(type);
    if (!list) this.byType.set(type, list = []);
    list.push(gid);
    return obj;
  }

  /** The fake's clock (ms since the epoch): where the last timestamp was taken. */
  now(): number {
    return this.#clock;
  }

  /** How many events the feed shows now (the others wait out `eventDelayMs`). */
  visibleEvents(): number {
    let n = this.events.length;
    while (n > 0 && this.events[n - 1].at + this.eventDelayMs > this.#clock) n--;
    return n;
  }

  /** Moves the fake's clock on (say 25 hours, to expire every events token). */
  advance(ms: number): void {
    this.#clock += ms;
  }

  /**
   * The longest step of the clock between two timestamps (an hour while the data is
   * generated; a simulation of live changes sets a second or so).
   */
  maxTickMs = 3_600_000;

  /** A timestamp a little after the previous one. */
  tick(): string {
    this.#clock += Math.floor(this.#random() * this.maxTickMs) + 1000;
    return new Date(this.#clock).toISOString();
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#random() * list.length)];
  }

  #some<T>(list: readonly T[], max: number): T[] {
    const n = list.length === 0 ? 0 : Math.floor(this.#random() * (max + 1));
    const out = new Set<T>();
    for (let i = 0; i < n; i++) out.add(this.#pick(list));
    return [...out];
  }

  #phrase(n = 3): string {
    return Array.from({ length: n }, () => this.#pick(WORDS)).join(" ");
  }

  #generate(o: Required<Omit<FakeDataOptions, "seed">>): void {
    const org = this.add("workspace", {
      name: "Acme Corp",
      is_organization: true,
      email_domains: ["acme.example", "acme-corp.example"],
    });
    const personal = this.add("workspace", {
      name: "Personal Projects",
      is_organization: false,
      email_domains: [],
    });
    const users = Array.from({ length: o.users }, (_, i) =>
      this.add("user", {
        name: i === 1 ? "Zoë Ångström 🌟" : `User ${i + 1}`,
        email: `user${i + 1}@acme.example`,
        photo: i % 2 === 0 ? null : {
          image_21x21: `https://img.example/u${i}_21.png`,
          image_60x60: `https://img.example/u${i}_60.png`,
          image_128x128: `https://img.example/u${i}_128.png`,
        },
        workspaces: i < 2 ? [new Ref(org.gid), new Ref(personal.gid)] : [new Ref(org.gid)],
      }));
    const userRefs = users.map((u) => new Ref(u.gid));
    const teams = Array.from({ length: o.teams }, (_, i) =>
      this.add("team", {
        name: i === 0 ? "Engineering" : `Team ${i + 1}`,
        description: `Team ${i + 1} — ${this.#phrase()}`,
        html_description: `<body>Team ${i + 1}</body>`,
        organization: new Ref(org.gid),
        permalink_url: `https://app.asana.com/0/team/${i}`,
        visibility: this.#pick(["secret", "request_to_join", "public"]),
      }));
    const customFields = [
      this.add("custom_field", {
        name: "Estimate",
        resource_subtype: "number",
        type: "number",
        precision: 1,
        workspace: new Ref(org.gid),
      }),
      this.add("custom_field", {
        name: "Priority",
        resource_subtype: "enum",
        type: "enum",
        enum_options: ["Low", "Medium", "High"].map((name, i) => ({
          gid: String(this.#next++),
          resource_type: "enum_option",
          name,
          enabled: true,
          color: ["green", "yellow", "red"][i],
        })),
        workspace: new Ref(org.gid),
      }),
      this.add("custom_field", {
        name: "Notes ✍️",
        resource_subtype: "text",
        type: "text",
        workspace: new Ref(org.gid),
      }),
    ];
    const tagsOf = new Map<string, AsanaObject[]>();
    for (const ws of [org, personal]) {
      const n = ws === org ? o.tags : 1;
      tagsOf.set(
        ws.gid,
        Array.from({ length: n }, (_, i) =>
          this.add("tag", {
            name: i === 0 && ws === org ? "urgent 🔥" : `tag-${ws === org ? "org" : "me"}-${i + 1}`,
            color: this.#pick(["dark-pink", "light-green", null]),
            notes: "",
            created_at: this.tick(),
            followers: this.#some(userRefs, 2),
            workspace: new Ref(ws.gid),
            permalink_url: `https://app.asana.com/0/tag/${i}`,
          })),
      );
    }
    const projects: AsanaObject[] = [];
    for (const team of teams) {
      for (let p = 0; p < o.projectsPerTeam; p++) {
        projects.push(this.#project(org, new Ref(team.gid), userRefs, customFields, p));
      }
    }
    projects.push(this.#project(personal, null, userRefs.slice(0, 2), [], 0));

    let previous: AsanaObject | undefined;
    for (const project of projects) {
      const ws = (project.workspace as Ref).gid;
      const sections = Array.from({ length: o.sectionsPerProject }, (_, i) =>
        this.add("section", {
          name: i === 0 ? "Untitled section" : `${this.#phrase(2)} ${i}`,
          created_at: this.tick(),
          project: new Ref(project.gid),
          projects: [new Ref(project.gid)],
        }));
      const members = ws === org.gid ? userRefs : userRefs.slice(0, 2);
      const fields = ws === org.gid ? customFields : [];
      const tasks: string[] = [];
      this.tasksOf.set(project.gid, tasks);
      for (let t = 0; t < o.tasksPerProject; t++) {
        const section = this.#pick(sections);
        const task = this.#task(
          ws,
          project,
          section,
          members,
          fields,
          tagsOf.get(ws)!,
          t,
          o.storiesPerTask,
        );
        tasks.push(task.gid);
        // every fifth task has two subtasks; the first of them is also added to the project
        if (t % 5 === 2) {
          for (let s = 0; s < 2; s++) {
            const sub = this.#task(ws, null, null, members, [], [], s, 1, task);
            if (s === 0) {
              this.#addMembership(sub, project, section);
              tasks.push(sub.gid);
            }
          }
        }
      }
      // multi-home the first task of the previous project of the same workspace into this one
      if (previous && (previous.workspace as Ref).gid === ws) {
        const shared = this.objects.get(this.tasksOf.get(previous.gid)![0])!;
        this.#addMembership(shared, project, sections[0]);
        tasks.push(shared.gid);
      }
      previous = project;
    }
    this.#generateMore(org, users, teams, projects);
    // a user's own tasks, in no project (last, so that the rest is as without them)
    for (const user of users) {
      for (let i = 0; i < o.tasksInNoProject; i++) this.#ownTask(org, user, i);
    }
  }

  /** A task in no project assigned to a user, with a story, and a subtask for every third. */
  #ownTask(ws: AsanaObject, user: AsanaObject, i: number): AsanaObject {
    const task = this.#task(ws.gid, null, null, [new Ref(user.gid)], [], [], i, 2);
    task.assignee = new Ref(user.gid);
    task.name = `My own task ${i + 1} of ${user.name}`;
    if (i % 3 === 0) this.#task(ws.gid, null, null, [new Ref(user.gid)], [], [], 0, 1, task);
    return task;
  }

  /**
   * Adds a task in no project, assigned to a user (their My Tasks only): no project's
   * feed hears of it.
   */
  addOwnTask(userGid: string): AsanaObject {
    const org = this.all("workspace").find((w) => w.is_organization)!;
    const task = this.#ownTask(org, this.objects.get(userGid)!, 7);
    this.#event(task, "added", task);
    return task;
  }

  /**
   * Removes a task from a project (it stays in Asana; in no project at all when that was
   * its last one). Asana writes a story for it, which moves `modified_at`, and an event
   * in the project's feed.
   */
  removeFromProject(taskGid: string, projectGid: string): void {
    const task = this.objects.get(taskGid)!;
    const project = this.objects.get(projectGid)!;
    this.#event(task, "removed", task, project);
    task.projects = (task.projects as Ref[]).filter((r) => r.gid !== projectGid);
    task.memberships = (task.memberships as { project: Ref }[]).filter((m) =>
      m.project.gid !== projectGid
    );
    const list = this.tasksOf.get(projectGid)!;
    list.splice(list.indexOf(taskGid), 1);
    const users = this.all("user").map((u) => new Ref(u.gid));
    this.addStory(task, "system", users);
    task.modified_at = this.tick();
  }

  /** Memberships, attachments, deeper subtasks, dependencies, portfolios, goals, updates, time. */
  #generateMore(
    org: AsanaObject,
    users: AsanaObject[],
    teams: AsanaObject[],
    projects: AsanaObject[],
  ) {
    const ref = (o: AsanaObject) => new Ref(o.gid);
    for (const ws of this.all("workspace")) {
      for (const u of users.filter((u) => (u.workspaces as Ref[]).some((r) => r.gid === ws.gid))) {
        this.add("workspace_membership", {
          user: ref(u),
          workspace: ref(ws),
          is_active: true,
          is_admin: u === users[0],
          is_guest: false,
          is_view_only: false,
          created_at: this.tick(),
        });
      }
    }
    teams.forEach((team, i) => {
      users.forEach((u, j) => {
        if (j === 0 || j % teams.length === i) {
          this.add("team_membership", {
            user: ref(u),
            team: ref(team),
            is_guest: false,
            is_limited_access: j === users.length - 1,
            is_admin: j === 0,
          });
        }
      });
    });
    for (const project of projects) {
      for (const [i, member] of (project.members as Ref[]).entries()) {
        this.add("project_membership", {
          parent: ref(project),
          member,
          access_level: i === 0 ? "admin" : "editor",
        });
      }
      this.add("attachment", this.#attachment(project));
    }
    const listed = [...new Set([...this.tasksOf.values()].flat())].map((g) => this.objects.get(g)!);
    listed.forEach((task, i) => {
      if (i % 4 === 1) this.add("attachment", this.#attachment(task));
      if (i % 6 === 0) {
        this.add("time_tracking_entry", {
          duration_minutes: 30 + i,
          entered_on: "2024-05-01",
          attributable_to: (task.projects as Ref[])[0] ?? null,
          created_by: users[0] ? ref(users[0]) : null,
          task: ref(task),
          created_at: this.tick(),
          approval_status: "DRAFT",
          billable_status: "billable",
          description: "pairing ⏱",
        });
      }
      // a dependency chain: every seventh task waits for the one before it
      if (i % 7 === 6 && i > 0) {
        const before = listed[i - 1];
        if ((before.workspace as Ref).gid === (task.workspace as Ref).gid) {
          (task.dependencies as Ref[]).push(ref(before));
          (before.dependents as Ref[]).push(ref(task));
        }
      }
    });
    // a subtask of a subtask, so that subtasks go deeper than one level
    for (const [parentGid, subs] of [...this.subtasksOf.entries()].slice(0, 3)) {
      const sub = this.objects.get(subs[subs.length - 1])!;
      const ws = (sub.workspace as Ref).gid;
      this.#task(ws, null, null, users.map(ref), [], [], 9, 1, sub);
      void parentGid;
    }
    // subtasks have their own attachments and time-tracking entries
    const listedSet = new Set(listed.map((t) => t.gid));
    [...this.subtasksOf.values()].flat().filter((g) => !listedSet.has(g)).forEach((gid, i) => {
      const sub = this.objects.get(gid)!;
      if (i % 3 === 0) this.add("attachment", this.#attachment(sub));
      if (i % 4 === 1) {
        this.add("time_tracking_entry", {
          duration_minutes: 15 + i,
          entered_on: "2024-05-02",
          attributable_to: null,
          created_by: users[0] ? ref(users[0]) : null,
          task: ref(sub),
          created_at: this.tick(),
          approval_status: "DRAFT",
          billable_status: "not_billable",
          description: "subtask time",
        });
      }
    });
    const orgProjects = projects.filter((p) => (p.workspace as Ref).gid === org.gid);
    const portfolios = [0, 1].map((i) =>
      this.add("portfolio", {
        name: i === 0 ? "Company bets 🎯" : "Platform",
        color: "light-green",
        created_at: this.tick(),
        created_by: ref(users[0]),
        owner: ref(users[0]),
        members: users.slice(0, 2).map(ref),
        public: i === 0,
        workspace: ref(org),
        items: orgProjects.slice(i, i + 3).map(ref),
        permalink_url: `https://app.asana.com/0/portfolio/${i}`,
        custom_field_settings: [],
      })
    );
    // portfolios carry custom field settings of their own (the first portfolio: two)
    const fieldsOfOrg = this.all("custom_field").filter((c) =>
      (c.workspace as Ref).gid === org.gid
    );
    portfolios.forEach((portfolio, i) => {
      for (const cf of fieldsOfOrg.slice(0, 2 - i)) {
        const setting = this.add("custom_field_setting", {
          custom_field: ref(cf),
          parent: ref(portfolio),
          is_important: i === 0,
        });
        (portfolio.custom_field_settings as Ref[]).push(ref(setting));
      }
    });
    const goals = [0, 1, 2].map((i) =>
      this.add("goal", {
        name: `Goal ${i + 1}: ${this.#phrase(2)}`,
        owner: users[i % users.length] ? ref(users[i % users.length]) : null,
        workspace: ref(org),
        team: i === 0 ? null : ref(teams[0]),
        is_workspace_level: i === 0,
        due_on: "2025-12-31",
        start_on: "2025-01-01",
        status: ["green", "yellow", "red"][i],
        notes: "Measured quarterly",
        followers: users.slice(0, 1).map(ref),
      })
    );
    // beyond the first listings: periods, memberships, relationships, categories, templates
    const year = this.add("time_period", {
      display_name: "FY25",
      period: "FY",
      start_on: "2025-01-01",
      end_on: "2025-12-31",
      parent: null,
      workspace: ref(org),
    });
    for (let q = 0; q < 4; q++) {
      this.add("time_period", {
        display_name: `Q${q + 1} FY25`,
        period: `Q${q + 1}`,
        start_on: `2025-${String(q * 3 + 1).padStart(2, "0")}-01`,
        end_on: `2025-${String(q * 3 + 3).padStart(2, "0")}-${q === 0 || q === 3 ? 31 : 30}`,
        parent: ref(year),
        workspace: ref(org),
      });
    }
    for (const portfolio of portfolios) {
      for (const [i, u] of users.slice(0, 2).entries()) {
        this.add("portfolio_membership", {
          portfolio: ref(portfolio),
          user: ref(u),
          access_level: i === 0 ? "admin" : "editor",
        });
      }
    }
    for (const goal of goals.slice(1)) {
      this.add("goal_relationship", {
        resource_subtype: "subgoal",
        supporting_resource: ref(goal),
        supported_goal: ref(goals[0]),
        contribution_weight: 0.5,
      });
    }
    for (const goal of goals) {
      for (const [i, u] of users.slice(0, 2).entries()) {
        this.add("membership", {
          resource_subtype: "goal_membership",
          parent: ref(goal),
          member: ref(u),
          access_level: i === 0 ? "editor" : "commenter",
          role: i === 0 ? "owner" : "commenter",
        });
      }
    }
    ["Design", "Engineering", "Old work"].forEach((name, i) =>
      this.add("time_tracking_category", {
        name,
        color: ["light-blue", "dark-green", "none"][i],
        is_archived: i === 2,
        workspace: ref(org),
      })
    );
    for (const [i, team] of teams.slice(0, 2).entries()) {
      this.add("project_template", {
        name: `${team.name} template ${i + 1}`,
        description: "Start here 🧩",
        owner: ref(users[0]),
        team: ref(team),
        public: i === 0,
        color: "light-purple",
        workspace: ref(org),
      });
    }
    for (const parent of [...orgProjects, ...portfolios, ...goals]) {
      const kind = parent.resource_type;
      // as in Asana, the parent names its latest status update
      parent.current_status_update = ref(this.add("status_update", {
        title: `Status of ${parent.name}`,
        resource_subtype: `${kind}_status_update`,
        text: "On track ✅",
        status_type: "on_track",
        author: ref(users[0]),
        created_by: ref(users[0]),
        created_at: this.tick(),
        modified_at: this.tick(),
        parent: ref(parent),
      }));
    }
    for (const u of users) {
      for (const ws of u.workspaces as Ref[]) {
        this.add("user_task_list", { name: "My Tasks", owner: ref(u), workspace: ws });
      }
    }
  }

  #attachment(parent: AsanaObject): Record<string, unknown> {
    const asana = this.#random() < 0.5;
    return {
      name: asana ? "spec 📄.pdf" : "design link",
      resource_subtype: asana ? "asana" : "external",
      created_at: this.tick(),
      download_url: asana ? "https://files.example/tmp/x" : null,
      permanent_url: "https://app.asana.com/app/asana/-/get_asset?asset_id=1",
      view_url: "https://files.example/view",
      host: asana ? "asana" : "external",
      parent: new Ref(parent.gid),
      size: asana ? 1024 : null,
      connected_to_app: false,
    };
  }

  #event(
    task: AsanaObject,
    action: string,
    resource: AsanaObject,
    parent: AsanaObject | null = null,
  ) {
    // events bubble up: a subtask's (at any depth) reach its top-level task's projects
    const projects = new Set<string>();
    for (let t: AsanaObject | undefined = task; t;) {
      for (const r of t.projects as Ref[]) projects.add(r.gid);
      t = t.parent instanceof Ref ? this.objects.get(t.parent.gid) : undefined;
    }
    this.#eventIn([...projects], action, resource, parent);
  }

  /** An event in these projects' feeds. */
  #eventIn(
    projects: string[],
    action: string,
    resource: AsanaObject,
    parent: AsanaObject | null = null,
  ) {
    if (this.dropEvents) {
      this.eventsLost++;
      return;
    }
    this.events.push({
      seq: this.events.length + 1,
      at: this.#clock,
      projects,
      body: {
        user: null,
        resource: {
          gid: resource.gid,
          resource_type: resource.resource_type,
          name: resource.name ?? null,
        },
        type: resource.resource_type,
        action,
        parent: parent
          ? { gid: parent.gid, resource_type: parent.resource_type, name: parent.name }
          : null,
        created_at: new Date(this.#clock).toISOString(),
        change: action === "changed"
          ? { field: "name", action: "changed", new_value: resource.name }
          : null,
      },
    });
  }

  /** Edits a task (its name and completion) and moves its modified_at on. */
  touchTask(gid: string): void {
    const task = this.objects.get(gid)!;
    task.name = `${task.name} (edited)`;
    task.completed = !task.completed;
    task.completed_at = task.completed ? this.tick() : null;
    task.modified_at = this.tick();
    this.#event(task, "changed", task);
  }

  /**
   * Adds a project to the organisation's first team, with three sections and no tasks.
   * Nothing else moves: the organisation's other objects keep their `modified_at`.
   */
  addProject(): AsanaObject {
    const org = this.all("workspace").find((w) => w.is_organization)!;
    const team = this.all("team").find((t) => (t.organization as Ref).gid === org.gid)!;
    const users = this.all("user").map((u) => new Ref(u.gid));
    const fields = this.all("custom_field").filter((c) => (c.workspace as Ref).gid === org.gid);
    const project = this.#project(
      org,
      new Ref(team.gid),
      users,
      fields,
      this.all("project").length,
    );
    for (let i = 0; i < 3; i++) {
      this.add("section", {
        name: i === 0 ? "Untitled section" : `${this.#phrase(2)} ${i}`,
        created_at: this.tick(),
        project: new Ref(project.gid),
        projects: [new Ref(project.gid)],
      });
    }
    this.tasksOf.set(project.gid, []);
    return project;
  }

  /**
   * Files an existing task (one in no project, say a subtask) into a project's first
   * section, as adding a task to a project does when Asana writes no story for it: the
   * task's `modified_at` stays.
   */
  fileTask(taskGid: string, projectGid: string): void {
    const task = this.objects.get(taskGid)!;
    const project = this.objects.get(projectGid)!;
    const section = this.all("section").find((x) => (x.project as Ref).gid === projectGid)!;
    this.#addMembership(task, project, section);
    this.tasksOf.get(projectGid)!.push(taskGid);
  }

  /** Adds a task (with two stories) to a project's first section. */
  addTask(projectGid: string): AsanaObject {
    const project = this.objects.get(projectGid)!;
    const section = this.all("section").find((s) => (s.project as Ref).gid === projectGid)!;
    const users = this.all("user").map((u) => new Ref(u.gid));
    const task = this.#task((project.workspace as Ref).gid, project, section, users, [], [], 7, 2);
    this.tasksOf.get(projectGid)!.push(task.gid);
    this.#event(task, "added", task, project);
    return task;
  }

  /**
   * Adds a subtask (with one story) under a task. As in Asana, the parent's
   * `num_subtasks` counts it but its `modified_at` stays.
   */
  addSubtask(parentGid: string): AsanaObject {
    const parent = this.objects.get(parentGid)!;
    const users = this.all("user").map((u) => new Ref(u.gid));
    const sub = this.#task((parent.workspace as Ref).gid, null, null, users, [], [], 8, 1, parent);
    this.#event(sub, "added", sub, parent);
    return sub;
  }

  /** Edits a comment (its text): no task's `modified_at` moves; Asana sends a story event. */
  editStory(gid: string): void {
    const story = this.objects.get(gid)!;
    story.text = `${story.text} (edited)`;
    story.is_edited = true;
    this.#event(this.objects.get((story.target as Ref).gid)!, "changed", story);
  }

  /** Pins or unpins a comment: no task's `modified_at` moves. */
  pinStory(gid: string): void {
    const story = this.objects.get(gid)!;
    story.is_pinned = !story.is_pinned;
    this.#event(this.objects.get((story.target as Ref).gid)!, "changed", story);
  }

  /** Deletes a comment: no task's `modified_at` moves. */
  removeStory(gid: string): void {
    const story = this.objects.get(gid)!;
    const task = this.objects.get((story.target as Ref).gid)!;
    const list = this.storiesOf.get(task.gid)!;
    list.splice(list.indexOf(gid), 1);
    this.#remove(gid);
    this.#event(task, "deleted", story);
  }

  /**
   * Moves a task to another section of a project it is in, as the board does when
   * Asana writes no story for it: its `modified_at` stays.
   */
  moveToSection(taskGid: string, sectionGid: string): void {
    const task = this.objects.get(taskGid)!;
    const section = this.objects.get(sectionGid)!;
    const project = (section.project as Ref).gid;
    const m = (task.memberships as { project: Ref; section: Ref }[])
      .find((x) => x.project.gid === project);
    if (!m) throw new RangeError(`moveToSection: task ${taskGid} is not in project ${project}`);
    m.section = new Ref(sectionGid);
    this.#event(task, "changed", task);
  }

  /**
   * A user likes a task: `likes` and `num_likes` change, its `modified_at` stays, and
   * (as far as the fake knows) no event is written: only a watch of `num_likes` sees it.
   */
  likeTask(taskGid: string, userGid: string): void {
    const task = this.objects.get(taskGid)!;
    (task.likes as { gid: string; user: Ref }[]).push({
      gid: String(this.#next++),
      user: new Ref(userGid),
    });
    task.num_likes = (task.likes as unknown[]).length;
  }

  /** Tags a task without a story: its `modified_at` stays. */
  tagTask(taskGid: string, tagGid: string): void {
    const task = this.objects.get(taskGid)!;
    (task.tags as Ref[]).push(new Ref(tagGid));
    this.#event(task, "changed", task);
  }

  /**
   * Makes `taskGid` wait for `blockingGid`: the waiting task's `modified_at` moves, the
   * blocking task's (its `dependents`) does not; both get an event.
   */
  addDependency(taskGid: string, blockingGid: string): void {
    const task = this.objects.get(taskGid)!;
    const blocking = this.objects.get(blockingGid)!;
    (task.dependencies as Ref[]).push(new Ref(blockingGid));
    (blocking.dependents as Ref[]).push(new Ref(taskGid));
    task.modified_at = this.tick();
    this.#event(task, "changed", task);
    this.#event(blocking, "changed", blocking);
  }

  /** Deletes a task, its subtasks and its stories. */
  deleteTask(gid: string): void {
    const task = this.objects.get(gid);
    if (!task) return;
    // (a copy: each deletion takes the subtask out of this list)
    for (const sub of [...this.subtasksOf.get(gid) ?? []]) this.deleteTask(sub);
    this.#event(task, "deleted", task);
    // tasks that depended on it, or that it blocked, lose that link (and so change)
    for (const other of this.all("task")) {
      for (const field of ["dependencies", "dependents"] as const) {
        const refs = other[field] as Ref[];
        const i = refs.findIndex((r) => r.gid === gid);
        if (i >= 0) {
          refs.splice(i, 1);
          other.modified_at = this.tick();
        }
      }
    }
    for (const list of this.tasksOf.values()) {
      for (let i = list.indexOf(gid); i >= 0; i = list.indexOf(gid)) list.splice(i, 1);
    }
    for (const story of this.storiesOf.get(gid) ?? []) this.#remove(story);
    this.storiesOf.delete(gid);
    const parent = task.parent instanceof Ref ? task.parent.gid : undefined;
    if (parent) {
      const subs = this.subtasksOf.get(parent) ?? [];
      subs.splice(subs.indexOf(gid), 1);
      const p = this.objects.get(parent);
      if (p) p.num_subtasks = subs.length;
    }
    this.#remove(gid);
  }

  #remove(gid: string): void {
    const obj = this.objects.get(gid);
    if (!obj) return;
    this.objects.delete(gid);
    const list = this.byType.get(obj.resource_type)!;
    list.splice(list.indexOf(gid), 1);
  }

  /** Adds a comment to a task, which (as in Asana) modifies the task. */
  addStoryTo(gid: string): AsanaObject {
    const task = this.objects.get(gid)!;
    const story = this.addStory(task, "comment", this.all("user").map((u) => new Ref(u.gid)));
    task.modified_at = this.tick();
    this.#event(task, "added", story, task);
    return story;
  }

  /**
   * Adds a custom field to a project: a new setting, which the project lists among its
   * `custom_field_settings`. As in Asana, no task's `modified_at` moves and the
   * project's events carry nothing of it.
   */
  addFieldSetting(projectGid: string, fieldGid: string): AsanaObject {
    const project = this.objects.get(projectGid)!;
    const setting = this.add("custom_field_setting", {
      custom_field: new Ref(fieldGid),
      parent: new Ref(project.gid),
      project: new Ref(project.gid),
      is_important: false,
    });
    (project.custom_field_settings as Ref[]).push(new Ref(setting.gid));
    return setting;
  }

  /** Takes a custom field off a project: its setting is gone (no event, no `modified_at`). */
  removeFieldSetting(settingGid: string): void {
    const setting = this.objects.get(settingGid)!;
    const project = this.objects.get((setting.parent as Ref).gid)!;
    project.custom_field_settings = (project.custom_field_settings as Ref[]).filter((r) =>
      r.gid !== settingGid
    );
    this.#remove(settingGid);
  }

  /** Marks a project's custom field setting important, or not (no event, no `modified_at`). */
  setImportant(settingGid: string, important: boolean): void {
    this.objects.get(settingGid)!.is_important = important;
  }

  /**
   * Posts a status update on a project, a portfolio or a goal, which then names it as its
   * `current_status_update` (no task moves, no event).
   */
  addStatusUpdate(parentGid: string): AsanaObject {
    const parent = this.objects.get(parentGid)!;
    const author = this.all("user")[0];
    const update = this.add("status_update", {
      title: `Status of ${parent.name} (new)`,
      resource_subtype: `${parent.resource_type}_status_update`,
      text: "At risk ⚠️",
      status_type: "at_risk",
      author: new Ref(author.gid),
      created_by: new Ref(author.gid),
      created_at: this.tick(),
      modified_at: this.tick(),
      parent: new Ref(parent.gid),
    });
    parent.current_status_update = new Ref(update.gid);
    return update;
  }

  /**
   * Adds a user to a project's members (a project membership, as an editor): the
   * project lists them among its `members`; no task moves, no event.
   */
  addProjectMember(projectGid: string, userGid: string): AsanaObject {
    const project = this.objects.get(projectGid)!;
    (project.members as Ref[]).push(new Ref(userGid));
    return this.add("project_membership", {
      parent: new Ref(project.gid),
      member: new Ref(userGid),
      access_level: "editor",
    });
  }

  /** Takes a user off a project's members: their project membership is gone (no event). */
  removeProjectMember(projectGid: string, userGid: string): void {
    const project = this.objects.get(projectGid)!;
    project.members = (project.members as Ref[]).filter((m) => m.gid !== userGid);
    const membership = this.all("project_membership").find((m) =>
      (m.parent as Ref).gid === projectGid && (m.member as Ref).gid === userGid
    );
    if (membership) this.#remove(membership.gid);
  }

  /**
   * Attaches a file to a task or a subtask. As in Asana, that writes a story on it
   * (`attachment_added`) and moves its own `modified_at` ("changes to attachments"), not
   * its parent task's; the event bubbles up to the projects above it.
   */
  addAttachmentTo(gid: string): AsanaObject {
    const task = this.objects.get(gid)!;
    const attachment = this.add("attachment", this.#attachment(task));
    const story = this.addStory(task, "system", []);
    story.resource_subtype = "attachment_added";
    story.text = `attached ${attachment.name}`;
    task.modified_at = this.tick();
    this.#event(task, "added", attachment, task);
    return attachment;
  }

  /**
   * Changes a share of the listed tasks, deterministically: touches `touch` (a
   * fraction), adds `add` tasks, deletes `remove` tasks and comments on `stories` tasks.
   */
  mutate(o: { touch?: number; add?: number; remove?: number; stories?: number }): Mutations {
    const listed = [...new Set([...this.tasksOf.values()].flat())];
    const pickMany = (n: number) => {
      const out = new Set<string>();
      while (out.size < Math.min(n, listed.length)) out.add(this.#pick(listed));
      return [...out];
    };
    const m: Mutations = { touched: [], added: [], deleted: [], storiesAddedTo: [] };
    for (const gid of pickMany(Math.round(listed.length * (o.touch ?? 0)))) {
      this.touchTask(gid);
      m.touched.push(gid);
    }
    const survivors = () => listed.filter((g) => this.objects.has(g) && !m.touched.includes(g));
    for (let i = 0; i < (o.stories ?? 0); i++) {
      const gid = this.#pick(survivors());
      this.addStoryTo(gid);
      m.storiesAddedTo.push(gid);
    }
    for (let i = 0; i < (o.remove ?? 0); i++) {
      const gid = this.#pick(survivors());
      this.deleteTask(gid);
      m.deleted.push(gid);
    }
    const projects = [...this.tasksOf.keys()];
    for (let i = 0; i < (o.add ?? 0); i++) m.added.push(this.addTask(this.#pick(projects)).gid);
    return m;
  }

  #addMembership(task: AsanaObject, project: AsanaObject, section: AsanaObject): void {
    (task.memberships as unknown[]).push({
      project: new Ref(project.gid),
      section: new Ref(section.gid),
    });
    (task.projects as Ref[]).push(new Ref(project.gid));
  }

  #project(
    ws: AsanaObject,
    team: Ref | null,
    users: Ref[],
    customFields: AsanaObject[],
    i: number,
  ): AsanaObject {
    const created = this.tick();
    const project = this.add("project", {
      name: `${this.#phrase(2)} project ${i + 1}`,
      archived: i === 1,
      color: this.#pick(["dark-blue", "light-orange", null]),
      icon: "list",
      created_at: created,
      modified_at: this.tick(),
      current_status: null,
      current_status_update: null,
      custom_field_settings: [],
      custom_fields: [],
      default_view: this.#pick(["list", "board", "calendar", "timeline"]),
      due_date: null,
      due_on: i === 0 ? "2025-06-30" : null,
      start_on: null,
      notes: `Project notes ${this.#phrase(6)}`,
      html_notes: `<body>Project notes</body>`,
      members: users,
      followers: users.slice(0, 2),
      owner: users[0] ?? null,
      team,
      workspace: new Ref(ws.gid),
      public: i % 2 === 0,
      privacy_setting: i % 2 === 0 ? "public_to_workspace" : "private",
      completed: false,
      completed_at: null,
      completed_by: null,
      permalink_url: `https://app.asana.com/0/${i}/list`,
      project_brief: null,
      created_from_template: null,
    });
    for (const cf of customFields) {
      const setting = this.add("custom_field_setting", {
        custom_field: new Ref(cf.gid),
        parent: new Ref(project.gid),
        project: new Ref(project.gid),
        is_important: cf.name === "Priority",
      });
      (project.custom_field_settings as Ref[]).push(new Ref(setting.gid));
    }
    return project;
  }

  #task(
    ws: string,
    project: AsanaObject | null,
    section: AsanaObject | null,
    users: Ref[],
    customFields: AsanaObject[],
    tags: AsanaObject[],
    i: number,
    stories: number,
    parent?: AsanaObject,
  ): AsanaObject {
    const created = this.tick();
    const completed = this.#random() < 0.3;
    const assignee = this.#random() < 0.8 ? this.#pick(users) : null;
    const bigNote = i === 3 && project !== null;
    const task = this.add("task", {
      name: parent ? `Subtask ${i + 1} of ${parent.name}` : `${this.#phrase()} #${i + 1}`,
      resource_subtype: i === 4 ? "milestone" : "default_task",
      approval_status: null,
      assignee_status: "upcoming",
      created_at: created,
      modified_at: created,
      assignee,
      start_on: null,
      start_at: null,
      due_on: this.#random() < 0.5 ? "2025-03-14" : null,
      due_at: null,
      completed,
      completed_at: completed ? this.tick() : null,
      completed_by: completed && assignee ? assignee : null,
      dependencies: [],
      dependents: [],
      external: null,
      notes: bigNote
        ? `Long notes 📝 ${"Lorem ipsum dolor sit amet, ünïcödé ✓. ".repeat(520)}`
        : i % 3 === 0
        ? `Notes with emoji 🎉 and 日本語 and a "quote" and a\nnew line`
        : "",
      html_notes: "<body></body>",
      num_subtasks: 0,
      followers: this.#some(users, 3),
      parent: parent ? new Ref(parent.gid) : null,
      permalink_url: `https://app.asana.com/0/0/${i}`,
      tags: this.#some(tags.map((t) => new Ref(t.gid)), 2),
      workspace: new Ref(ws),
      custom_fields: customFields.map((cf) => this.#customFieldValue(cf)),
      projects: [],
      memberships: [],
      likes: [],
      num_likes: 0,
    });
    if (project && section) this.#addMembership(task, project, section);
    if (parent) {
      let subs = this.subtasksOf.get(parent.gid);
      if (!subs) this.subtasksOf.set(parent.gid, subs = []);
      subs.push(task.gid);
      parent.num_subtasks = subs.length;
    }
    this.storiesOf.set(task.gid, []);
    for (let s = 0; s < stories; s++) this.addStory(task, s === 0 ? "system" : "comment", users);
    task.modified_at = this.tick();
    return task;
  }

  /** Adds a story to a task (a comment or a system story). */
  addStory(task: AsanaObject, type: "comment" | "system", users: Ref[]): AsanaObject {
    const author = users.length ? this.#pick(users) : null;
    const story = this.add("story", {
      created_at: this.tick(),
      created_by: author,
      resource_subtype: type === "system" ? "added_to_project" : "comment_added",
      text: type === "system" ? "added to a project" : `Comment: ${this.#phrase(4)} 💬`,
      html_text: "<body></body>",
      type,
      is_pinned: false,
      is_edited: false,
      source: type === "system" ? "web" : "api",
      target: new Ref(task.gid),
      sticker_name: null,
    });
    let list = this.storiesOf.get(task.gid);
    if (!list) this.storiesOf.set(task.gid, list = []);
    if (!list.includes(story.gid)) list.push(story.gid);
    return story;
  }

  /**
   * A task's value of a custom field. As in Asana, the field's own parts (name, type,
   * enum options, the chosen option's name) are read from the field when the task is
   * rendered: renaming the field or an option changes every task's copy at once.
   */
  #customFieldValue(cf: AsanaObject): Record<string, unknown> {
    const value: Record<string, unknown> = { gid: cf.gid, resource_type: "custom_field" };
    const live = (get: () => unknown) => ({ get, enumerable: true });
    Object.defineProperties(value, {
      name: live(() => cf.name),
      resource_subtype: live(() => cf.resource_subtype),
      type: live(() => cf.type),
    });
    switch (cf.resource_subtype) {
      case "number": {
        const n = this.#random() < 0.7 ? Math.round(this.#random() * 100) / 10 : null;
        value.number_value = n;
        Object.defineProperty(value, "display_value", live(() => n === null ? null : String(n)));
        return value;
      }
      case "enum": {
        const options = cf.enum_options as Record<string, unknown>[];
        const chosen = this.#random() < 0.7 ? this.#pick(options).gid : null;
        const option = () => options.find((x) => x.gid === chosen) ?? null;
        Object.defineProperties(value, {
          enum_options: live(() => cf.enum_options),
          enum_value: live(option),
          display_value: live(() => option()?.name ?? null),
        });
        return value;
      }
      default: {
        const t = this.#random() < 0.5 ? this.#phrase(2) : null;
        value.text_value = t;
        Object.defineProperty(value, "display_value", live(() => t));
        return value;
      }
    }
  }

  /**
   * Renames an object (a project, section, user, tag, custom field or team) as Asana
   * does: every record that shows the name shows the new one, and no task's
   * `modified_at` moves. A project's own `modified_at` moves; the others have none.
   */
  rename(gid: string, name?: string): void {
    const obj = this.objects.get(gid);
    if (!obj) throw new RangeError(`rename: no object ${gid}`);
    obj.name = name ?? `${obj.name} (renamed)`;
    if (obj.resource_type === "project") obj.modified_at = this.tick();
    // a project's events carry its sections' changes
    if (obj.resource_type === "section") {
      this.#eventIn([(obj.project as Ref).gid], "changed", obj);
    }
  }

  /** Renames an option of an enum custom field; no task's `modified_at` moves. */
  renameEnumOption(fieldGid: string, index: number, name?: string): void {
    const options = this.objects.get(fieldGid)?.enum_options as Record<string, unknown>[];
    const option = options?.[index];
    if (!option) throw new RangeError(`renameEnumOption: no option ${index} of ${fieldGid}`);
    option.name = name ?? `${option.name} (renamed)`;
  }
}
