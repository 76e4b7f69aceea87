/**
 * The incremental columns of `deno task bench`: is an incremental run a fresh load, and
 * what does it cost? The fake Asana runs in this process without latency or limits
 * (request counts do not depend on them); the whole shipped spec loads it into PGlite.
 *
 * - **second run**: 1% of the tasks change, in a mix of every change kind below; the
 *   next run's requests as a share of the first run's, and the rows that then differ
 *   from a fresh full load (every table, every column).
 * - **day**: 24 hourly runs (the clock moves an hour before each), the day's 1% of
 *   changes spread over them; their requests together as a share of one full load, and
 *   the rows differing after the last one.
 * - **gap**: a run 25 hours after the last (every feed token has expired): its share,
 *   and how many projects were listed again whole.
 *
 * @module
 */
import { sizedFor, startFakeAsana } from "../testing/fake_asana/mod.ts";
import { type FakeData, Ref } from "../testing/fake_asana/data.ts";
import { runPipeline } from "../src/pipeline.ts";
import { PgliteDestination } from "../src/load/pglite.ts";
import { asanaSpec, tableContents } from "../tests/helpers.ts";

/** One change of a kind Asana makes; `i` picks which record, deterministically. */
type Change = (d: FakeData, i: number) => void;

const HOUR = 3_600_000;

/**
 * Top-level tasks in a project, subtasks and comments below them. (A user's own tasks,
 * in no project, are no project's: changes below them arrive with their assignee's daily
 * listing, a residue the README states with its bound.)
 */
const listed = (d: FakeData) => d.all("task").filter((t) => (t.projects as Ref[]).length > 0);
const inAProject = (d: FakeData, gid: string): boolean => {
  for (let t = d.objects.get(gid); t;) {
    if ((t.projects as Ref[]).length > 0) return true;
    t = t.parent instanceof Ref ? d.objects.get(t.parent.gid) : undefined;
  }
  return false;
};
const subtasks = (d: FakeData) =>
  d.all("task").filter((t) => t.parent instanceof Ref && inAProject(d, t.gid));
const comments = (d: FakeData) =>
  d.all("story").filter((s) => s.type === "comment" && inAProject(d, (s.target as Ref).gid));
const nth = <T>(list: readonly T[], i: number): T => list[(i * 7919) % list.length];

/** The change kinds of issue 20, each as Asana makes it (what moves `modified_at`, what writes an event). */
export const CHANGES: Record<string, Change> = {
  "task edited": (d, i) => d.touchTask(nth(listed(d), i).gid),
  "subtask edited": (d, i) => d.touchTask(nth(subtasks(d), i).gid),
  "comment on a task": (d, i) => void d.addStoryTo(nth(listed(d), i).gid),
  "comment on a subtask": (d, i) => void d.addStoryTo(nth(subtasks(d), i).gid),
  "attachment on a task": (d, i) => void d.addAttachmentTo(nth(listed(d), i).gid),
  "attachment on a subtask": (d, i) => void d.addAttachmentTo(nth(subtasks(d), i).gid),
  "comment edited": (d, i) => d.editStory(nth(comments(d), i).gid),
  "comment pinned": (d, i) => d.pinStory(nth(comments(d), i).gid),
  "comment deleted": (d, i) => d.removeStory(nth(comments(d), i).gid),
  "subtask added": (d, i) => void d.addSubtask(nth(listed(d), i).gid),
  "subtask deleted": (d, i) => d.deleteTask(nth(subtasks(d), i).gid),
  "task added": (d, i) => void d.addTask(nth(d.all("project"), i).gid),
  "task deleted": (d, i) => d.deleteTask(nth(listed(d), i).gid),
  "moved to another section": (d, i) => {
    const task = nth(listed(d), i);
    const m = (task.memberships as { project: Ref; section: Ref }[])[0];
    const other = d.all("section").find((s) =>
      (s.project as Ref).gid === m.project.gid && s.gid !== m.section.gid
    );
    if (other) d.moveToSection(task.gid, other.gid);
  },
  "tagged": (d, i) => d.tagTask(nth(listed(d), i).gid, nth(d.all("tag"), i).gid),
  "liked": (d, i) => d.likeTask(nth(listed(d), i).gid, nth(d.all("user"), i).gid),
  "dependency added": (d, i) => {
    const tasks = listed(d);
    const a = nth(tasks, i), b = nth(tasks, i + 1);
    if (a.gid !== b.gid) d.addDependency(a.gid, b.gid);
  },
  "project renamed": (d, i) => d.rename(nth(d.all("project"), i).gid),
  "user renamed": (d, i) => d.rename(nth(d.all("user"), i).gid),
};

/** Applies `count` changes, taking the kinds in turn from `from` on; the next `from`. */
export function churn(d: FakeData, count: number, from = 0): number {
  const kinds = Object.values(CHANGES);
  for (let n = 0; n < count; n++) kinds[(from + n) % kinds.length](d, from + n);
  return from + count;
}

/** Rows in one dataset and not the other, both ways (every table, every column). */
function rowsDiffering(a: Record<string, string[]>, b: Record<string, string[]>) {
  let rows = 0, wrong = 0;
  const tables: string[] = [];
  for (const t of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = new Set(a[t] ?? []), y = new Set(b[t] ?? []);
    rows += y.size;
    let here = 0;
    for (const r of x) if (!y.has(r)) here++;
    for (const r of y) if (!x.has(r)) here++;
    if (here > 0) tables.push(`${t}:${here}`);
    wrong += here;
  }
  return { rows, wrong, tables };
}

/** Partitions of `tasks` a run listed again whole (token refused, feed failed, safety net due). */
function wholeListings(run: Awaited<ReturnType<typeof runPipeline>>): number {
  const f = run.resources.find((r) => r.resource === "tasks")?.feed;
  return f ? f.refused + f.failed + f.due : 0;
}

/** What {@linkcode benchIncremental} measured at one scale. */
export interface IncrementalFigures {
  tasks: number;
  firstRequests: number;
  changes: number;
  secondShare: number;
  secondWrong: number;
  rows: number;
  dayShare: number;
  dayWrong: number;
  /** The day's requests per resource (where a day of hourly runs spends them). */
  dayByResource: Record<string, number>;
  gapShare: number;
  gapRelisted: number;
  projects: number;
  wrongTables: string[];
}

/**
 * Measures the incremental columns at about `tasks` tasks (the fake's layout of
 * `fake_server.ts`), in the organisation the fake generates from `seed`: request counts
 * depend on nothing else, so several runs measure several organisations.
 */
export async function benchIncremental(tasks: number, seed = 42): Promise<IncrementalFigures> {
  const fake = await startFakeAsana({ ...sizedFor(tasks), seed });
  const d = fake.data;
  const dest = await PgliteDestination.open();
  try {
    const spec = await asanaSpec(fake.baseUrl, fake.token);
    const run = () => runPipeline(spec, { destination: dest, now: new Date(d.now()) });
    const fresh = async () => {
      const f = await PgliteDestination.open();
      await runPipeline(spec, { destination: f, now: new Date(d.now()) });
      const contents = await tableContents(f);
      await f.close();
      return contents;
    };
    const first = await run();
    // live changes are seconds apart (the generated history is hours apart)
    d.maxTickMs = 1000;
    const count = Math.max(1, Math.round(listed(d).length * 0.01));
    let from = churn(d, count);
    d.advance(HOUR);
    const second = await run();
    const afterSecond = rowsDiffering(await tableContents(dest), await fresh());
    // a day of hourly runs, the day's 1% spread over them
    let dayRequests = 0;
    const dayByResource: Record<string, number> = {};
    for (let hour = 0; hour < 24; hour++) {
      const now = Math.round((count * (hour + 1)) / 24) - Math.round((count * hour) / 24);
      from = churn(d, now, from);
      d.advance(HOUR);
      const r = await run();
      dayRequests += r.requests;
      for (const x of r.resources) {
        if (x.requests > 0) {
          dayByResource[x.resource] = (dayByResource[x.resource] ?? 0) + x.requests;
        }
      }
    }
    const afterDay = rowsDiffering(await tableContents(dest), await fresh());
    // 25 hours without a run: every token is refused
    churn(d, count, from);
    d.advance(25 * HOUR);
    const gap = await run();
    return {
      tasks: d.all("task").length,
      firstRequests: first.requests,
      changes: count,
      secondShare: second.requests / first.requests,
      secondWrong: afterSecond.wrong,
      rows: afterSecond.rows,
      dayShare: dayRequests / first.requests,
      dayWrong: afterDay.wrong,
      dayByResource,
      gapShare: gap.requests / first.requests,
      gapRelisted: wholeListings(gap),
      projects: d.all("project").length,
      wrongTables: [...afterSecond.tables, ...afterDay.tables],
    };
  } finally {
    await dest.close();
    await fake.close();
  }
}

if (import.meta.main) {
  // deno run -A scripts/bench_incremental.ts 2000,10000 [runs]: one line per run (seeds
  // 42, 43, …), then the medians of the shares
  const runs = Number(Deno.args[1] ?? "1");
  for (const n of (Deno.args[0] ?? "2000").split(",").map(Number)) {
    const all: IncrementalFigures[] = [];
    for (let i = 0; i < runs; i++) {
      const figures = await benchIncremental(n, 42 + i);
      all.push(figures);
      console.log(JSON.stringify({ seed: 42 + i, ...figures }));
    }
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    const m = (f: (r: IncrementalFigures) => number) => median(all.map(f));
    console.log(JSON.stringify({
      tasks: n,
      runs,
      median: {
        secondShare: m((r) => r.secondShare),
        dayShare: m((r) => r.dayShare),
        gapShare: m((r) => r.gapShare),
        secondWrong: m((r) => r.secondWrong),
        dayWrong: m((r) => r.dayWrong),
      },
    }));
  }
}
