/**
 * Text output for people: the run summary, dataset tables, load history, columns.
 *
 * @module
 */
import type { RunResult } from "../pipeline.ts";
import type { ForEach, Plan, PlannedResource } from "../plan/plan.ts";
import type { RunEstimate } from "../run/estimate.ts";
import type { Backfill } from "../run/open.ts";
import type { Spec } from "../spec/schema.ts";
import type { ResolvedVariable } from "../spec/interpolate.ts";
import { type DatasetSummary, depthOf, type TableDetail } from "../show.ts";

export function pad(s: string | number, n: number, right = false): string {
  const text = String(s);
  return right ? text.padStart(n) : text.padEnd(n);
}

/**
 * The end-of-run summary, one line per resource: rows written to its table, records
 * received (more when a record is listed under two parents), requests, and seconds from
 * its first request to the end of its last listing.
 */
export function formatRunSummary(result: RunResult): string {
  const w = Math.max(8, ...result.resources.map((r) => r.resource.length));
  const line = (cells: (string | number)[]) =>
    [pad(cells[0], w), ...cells.slice(1).map((c) => pad(c, 8, true))].join("  ");
  const lines = [line(["resource", "rows", "received", "requests", "seconds"])];
  for (const r of result.resources) {
    lines.push(
      line([r.resource, r.rows, r.received, r.requests, r.seconds.toFixed(2)]) +
        (r.loaded ? "" : "  (fetched for fan-out, not loaded)"),
    );
  }
  for (const r of result.resources) {
    for (const k of r.skipped) {
      lines.push(
        `skipped ${k.count} ${r.resource} request(s) on HTTP ${k.status}, e.g. ${k.example}`,
      );
    }
    if (r.restarts > 0) {
      lines.push(`${r.resource}: ${r.restarts} listing(s) restarted after an expired page token`);
    }
    if (r.missingForEach > 0) {
      lines.push(
        `${r.resource}: ${r.missingForEach} parent record(s) have no ${r.forEach} list: ` +
          `no request was made for them, and none of their rows was deleted`,
      );
    }
    if (r.unchanged > 0) {
      lines.push(
        `${r.resource}: ${r.unchanged} record(s) listed again at the cursor, unchanged: ` +
          `their children were not requested again`,
      );
    }
    if (r.watched > 0) {
      lines.push(
        `${r.resource}: ${r.watched} record(s) changed without moving the cursor (a watched ` +
          `field moved, or a key new to the table): listed again whole, with their children`,
      );
    }
    if (r.backfilled) {
      lines.push(
        `${r.resource}: new to this database: loaded under every existing parent record, ` +
          `not only the changed ones (once)`,
      );
    }
    if (r.feed && r.feed.events > 0) {
      lines.push(`${r.resource}: ${r.feed.events} change event(s) read from its feeds`);
    }
    if (r.feed && r.feed.started > 0) {
      lines.push(
        `${r.resource}: change feed started for ${r.feed.started} partition(s): ` +
          `their changes are read from the next run on`,
      );
    }
    if (r.feed && r.feed.refused > 0) {
      lines.push(
        `${r.resource}: ${r.feed.refused} partition(s)' feed token refused (a gap longer than ` +
          `its life): those partitions were listed again whole`,
      );
    }
    if (r.feed && r.feed.failed > 0) {
      lines.push(
        `${r.resource}: ${r.feed.failed} partition(s)' feed could not be read to its end: ` +
          `listed again whole; their tokens stay where they were`,
      );
    }
    if (r.feed && r.feed.due > 0) {
      lines.push(
        `${r.resource}: ${r.feed.due} partition(s) listed again whole (relist_every, the ` +
          `feed's safety net)`,
      );
    }
    if (r.verified) {
      const v = r.verified;
      lines.push(
        `${r.resource}: ${v.asked} record(s) no listing returned were asked for by key: ` +
          `${v.gone} gone (deleted), ${v.kept} still there (kept)` +
          (v.unanswered > 0 ? `, ${v.unanswered} unanswered (kept)` : ""),
      );
    }
    if (r.deleted > 0) {
      lines.push(
        `${r.resource}: ${r.deleted} record(s) deleted, with their child rows: the API no ` +
          `longer lists them`,
      );
    }
    if (r.deferred) {
      // a resource listed under several parents may wait under some of them only
      lines.push(
        r.deferredUnder.length > 0
          ? `${r.resource}: its listings under ${r.deferredUnder.join(", ")} not due ` +
            `(refresh_every); their rows were kept as they were`
          : `${r.resource}: not due (refresh_every); its rows were kept as they were`,
      );
    }
    if (r.avoided > 0) {
      lines.push(`${r.resource}: ${r.avoided} request(s) not made: \`when:\` says they are empty`);
    }
    if (r.capped > 0) {
      lines.push(`${r.resource}: ${r.capped} listing(s) stopped at max_pages`);
    }
    if (r.cycles > 0) {
      lines.push(
        `${r.resource}: ${r.cycles} record(s) listed below themselves (a cycle); not followed`,
      );
    }
  }
  const kept = result.resources.filter((r) => r.incomplete).map((r) => r.resource);
  if (kept.length > 0) {
    lines.push(
      `incomplete listings (${kept.join(", ")}): rows they would have covered were kept, ` +
        `and their cursors did not move`,
    );
  }
  if (result.unconverted > 0) {
    lines.push(
      `${result.unconverted} value(s) did not convert to their column's declared type ` +
        `(columns:); they were stored in variant columns (<column>__v_<type>)`,
    );
  }
  if (result.replacedCharacters > 0) {
    lines.push(
      `${result.replacedCharacters} character(s) Postgres text cannot hold (NUL, lone ` +
        `surrogates) were stored as U+FFFD`,
    );
  }
  for (const name of result.removed) {
    lines.push(
      `${name}: no longer in the spec; its tables were kept as they are (drop them with ` +
        `sql --write, or put the resource back)`,
    );
  }
  for (const { view, message } of result.viewsFailed) {
    lines.push(`view ${view} not made: ${message} (the load committed without it)`);
  }
  if (result.checkpoint?.note) lines.push(result.checkpoint.note);
  if ((result.checkpoint?.replayed ?? 0) > 0) {
    lines.push(
      `${result.checkpoint!.replayed} answers came from the checkpoint instead of the API`,
    );
  }
  const tables = Object.keys(result.tables).length;
  const views = result.views.length > 0 ? ` and ${result.views.length} views` : "";
  lines.push(
    `load ${result.loadId}: ${tables} tables${views} committed in ${
      result.seconds.toFixed(2)
    } s; ` +
      `${result.requests} requests, ${result.retries} retries, ${result.throttled} throttled (429)`,
  );
  return lines.join("\n");
}

/** The `show` table for people. */
export function formatDataset(summary: DatasetSummary): string {
  if (summary.tables.length === 0) return `dataset ${summary.dataset}: no tables loaded yet`;
  const names = summary.tables.map((t) => "  ".repeat(depthOf(t, summary.tables)) + t.name);
  const w = Math.max(5, ...names.map((n) => n.length));
  const lines = [
    `dataset ${summary.dataset}`,
    `${pad("table", w)}  ${pad("rows", 8, true)}  ${pad("columns", 7, true)}  last load`,
  ];
  summary.tables.forEach((t, i) => {
    const last = t.lastLoad ? `${t.lastLoad.finishedAt} (${t.lastLoad.rows} rows)` : "-";
    lines.push(`${pad(names[i], w)}  ${pad(t.rows, 8, true)}  ${pad(t.columns, 7, true)}  ${last}`);
  });
  const latest = summary.loads[0];
  if (latest) {
    lines.push(
      `last load ${latest.loadId}: ${latest.status} at ${latest.finishedAt}${
        latest.error ? ` — ${latest.error}` : ""
      }`,
    );
  }
  return lines.join("\n");
}

/** A plain text table; `right` names the columns aligned right. */
export function formatTable(
  headers: string[],
  rows: unknown[][],
  right: Set<number> = new Set(),
): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return "";
    if (v instanceof Date) return v.toISOString();
    const text = typeof v === "object" ? JSON.stringify(v) : String(v);
    const oneLine = text.replace(/\s+/g, " ");
    return oneLine.length > 60 ? oneLine.slice(0, 57) + "..." : oneLine;
  };
  const cells = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r.map((c, i) => pad(c, widths[i], right.has(i))).join("  ").trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** `keep:` as `check` prints it. */
function keepsOf(keep: string | Record<string, string> | undefined): string[] {
  if (keep === undefined) return [];
  if (typeof keep === "string") return [`keeps the records where ${keep}`];
  return Object.entries(keep).map(([p, text]) => `keeps under ${p} the records where ${text}`);
}

/** `deno task check`: the spec is valid, where its variables came from, the resource tree. */
export function formatCheck(
  file: string,
  spec: Spec,
  plan: Plan,
  variables: ResolvedVariable[],
  unset: readonly string[] = [],
): string {
  const lines = [`${file}: valid (pipeline ${spec.pipeline}, dataset ${spec.dataset})`];
  const seen = new Set<string>();
  for (const v of variables) {
    if (seen.has(v.variable)) continue;
    seen.add(v.variable);
    lines.push(`  \${${v.variable}}: found (${v.from})`);
  }
  for (const name of unset) lines.push(`  \${${name}}: not set (not checked: --no-secrets)`);
  lines.push("", "resources (run order; children under their parents):");
  // a union resource is shown under its first parent
  const shown = new Set<string>();
  const visit = (name: string, depth: number) => {
    shown.add(name);
    const r = plan.resources.get(name)!;
    const query = (params: PlannedResource["params"]) =>
      Object.entries(params).flatMap(([k, v]) =>
        (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`)
      ).join("&");
    const params = query(r.params);
    const forEach = (each: ForEach) =>
      `for each ${"values" in each ? each.values.join(", ") : each.from}`;
    const bits = [
      r.writeDisposition,
      r.primaryKey.length ? `key ${r.primaryKey.join("+")}` : "no key",
      r.incremental
        ? `incremental on ${r.incremental.cursor} from ${r.incremental.initial}` +
          (r.incremental.lag_seconds ? ` (lag ${r.incremental.lag_seconds} s)` : "")
        : "",
      r.reconcile
        ? "reconciled (deletions" +
          (r.reconcileListing === "records"
            ? "; after the first run one listing of whole records, no incremental filter"
            : "") +
          (r.reconcileWatch.length ? `; watching ${r.reconcileWatch.join(", ")}` : "") +
          (r.reconcileVerify
            ? `; a record no listing returns is asked for by GET ${r.reconcileVerify} before it is deleted`
            : "") +
          (r.reconcileMovesCursor
            ? `; where nothing says what changed below, ${
              [...r.reconcileMovesCursor].join(", ")
            } only under records whose cursor moved`
            : "") +
          ")"
        : "",
      r.changes
        ? `change feed GET ${r.changes.path} per ${r.changes.parents?.join("/") ?? "parent"}` +
          (r.changes.relistEveryMs
            ? ` (each parent listed whole every ${shortDuration(r.changes.relistEveryMs)})`
            : "")
        : "",
      refreshOf(r),
      r.partial ? "replaced within changed parents" : "",
      r.load ? "" : "not loaded",
      r.parents.includes(name) ? "recursive" : "",
      r.parents.length > 1 ? `union of ${r.parents.filter((p) => p !== name).join(", ")}` : "",
      r.forEach ? forEach(r.forEach) : "",
      ...keepsOf(spec.resources[name]?.keep),
    ].filter(Boolean);
    lines.push(
      `${"  ".repeat(depth + 1)}${depth ? "└ " : ""}${name} → ${r.table}: GET ${r.path}${
        params ? `?${params}` : ""
      }`,
    );
    // the parents listed by parameters of their own
    for (const [p, own] of r.paramsByParent) {
      const each = r.forEachByParent.get(p);
      lines.push(
        `${"  ".repeat(depth + 2)}${depth ? "  " : ""}under ${p}: GET ${r.path}?${query(own)}${
          each ? `, ${forEach(each)}` : ""
        }${r.refreshEvery.has(p) ? `, every ${shortDuration(r.refreshEvery.get(p)!)}` : ""}`,
      );
    }
    lines.push(`${"  ".repeat(depth + 2)}${depth ? "  " : ""}${bits.join(", ")}`);
    for (const c of r.children) if (c !== name && !shown.has(c)) visit(c, depth + 1);
  };
  for (const name of plan.order) {
    if (plan.resources.get(name)!.parents.length === 0) visit(name, 0);
  }
  const disabled = Object.entries(spec.resources).filter(([n]) => !plan.resources.has(n));
  if (disabled.length) {
    lines.push("", `disabled: ${disabled.map(([n]) => n).join(", ")} (enabled: false)`);
  }
  const views = Object.keys(spec.views ?? {});
  if (views.length) lines.push("", `views, made again by every load: ${views.join(", ")}`);
  return lines.join("\n");
}

/** One line on a resource the next run backfills, with about how many more requests. */
export function formatBackfill(b: Backfill): string {
  const known = Object.values(b.parents).every((n) => n !== undefined);
  const records = Object.entries(b.parents)
    .map(([p, n]) => `${n === undefined ? "?" : n} ${p}`).join(" + ");
  const total = known ? Object.values(b.parents).reduce((a, n) => a! + n!, 0)! : undefined;
  return `backfill: ${b.resource} is new to this database (or has a new parent): the next run ` +
    `lists it under every existing parent record once (${records}: ` +
    `${total === undefined ? "an unknown number of" : `about ${total}`} requests or more ` +
    `beyond the estimate above), and its incremental ancestors from their initial cursor`;
}

/** `deno task plan`: resources in run order, requests per parent, totals and time. */
export function formatEstimate(spec: Spec, e: RunEstimate, basedOn: string | undefined): string {
  const num = (n: number | undefined, digits = 0) => n === undefined ? "?" : n.toFixed(digits);
  const rows = e.resources.map((r, i) => [
    i + 1,
    r.resource,
    r.parent ?? "-",
    num(r.requestsPerChain, 1),
    num(r.chains),
    num(r.requests),
    r.basis,
  ]);
  const lines = [
    `plan for ${spec.pipeline}` +
    (basedOn
      ? ` (figures from load ${basedOn})`
      : " (no load yet: one request per parent assumed)"),
    formatTable(
      ["#", "resource", "parent", "requests/parent", "parents", "requests", "basis"],
      rows,
      new Set([0, 3, 4, 5]),
    ),
  ];
  const rpm = spec.source.limits.requests_per_minute;
  if (e.requests === undefined) {
    lines.push(
      "total: unknown until the parents have been listed once (run once, then plan again)",
    );
  } else {
    const time = e.seconds === undefined
      ? "no rate limit configured"
      : `about ${formatDuration(e.seconds)} at ${rpm} requests a minute`;
    lines.push(`total: about ${e.requests} requests; ${time}`);
  }
  return lines.join("\n");
}

/** `1 h 2 min`, `3 min 20 s`, `12 s`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** `show --loads`: the load history, newest first. */
export function formatLoads(summary: DatasetSummary): string {
  if (summary.loads.length === 0) return `dataset ${summary.dataset}: no loads yet`;
  return `dataset ${summary.dataset}: loads, newest first\n` + formatTable(
    ["load", "status", "started", "seconds", "error"],
    summary.loads.map((l) => [
      l.loadId,
      l.status,
      l.startedAt,
      ((Date.parse(l.finishedAt) - Date.parse(l.startedAt)) / 1000).toFixed(1),
      l.error ?? "",
    ]),
    new Set([3]),
  );
}

/** `show <table>`: columns with types, then a few sample rows. */
export function formatTableDetail(d: TableDetail): string {
  const lines = [
    `${d.dataset}.${d.table}: ${d.rows} rows${d.parent ? `, child of ${d.parent}` : ""}`,
    formatTable(["column", "type"], d.columns.map((c) => [c.name, c.type])),
  ];
  if (d.sample.length > 0) {
    const names = d.columns.map((c) => c.name).filter((n) => !n.startsWith("_dlt")).slice(0, 8);
    lines.push("", `sample (${d.sample.length} rows, first ${names.length} columns):`);
    lines.push(formatTable(names, d.sample.map((r) => names.map((n) => r[n]))));
  }
  return lines.join("\n");
}

/** A duration for people: `7d`, `12h`, `90m`, `30s`. */
/**
 * A resource's `refresh_every` and `refresh_on` in words, for the parents not listed by
 * parameters of their own (those say it on their own line).
 */
function refreshOf(r: PlannedResource): string {
  const shown = r.parents.length ? r.parents.filter((p) => !r.paramsByParent.has(p)) : [""];
  const byWords = new Map<string, string[]>();
  for (const p of shown) {
    const ms = r.refreshEvery.get(p);
    if (ms === undefined) continue;
    const on = r.refreshOn.get(p);
    const words = `every ${shortDuration(ms)}` +
      (on ? `, or at once when the parent's ${on.join(", ")} changed` : "");
    byWords.set(words, [...byWords.get(words) ?? [], p]);
  }
  const parts = [...byWords].map(([words, ps]) =>
    ps.length === shown.length ? words : `under ${ps.join(", ")} ${words}`
  );
  return parts.length ? `listed again ${parts.join("; ")}` : "";
}

function shortDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
