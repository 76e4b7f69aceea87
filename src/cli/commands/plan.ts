/**
 * `restpipe plan`: shows what the next run will request, from the last load's figures
 *
 * @module
 */
import { type Command, usageText } from "../command.ts";
import { buildPlan } from "../../plan/plan.ts";
import { estimateRun } from "../../run/estimate.ts";
import { defaultDbDir } from "../../pipeline.ts";
import type { LoadRecord } from "../../load/destination.ts";
import { openTarget } from "../../load/open.ts";
import { assertNotHeld } from "../../load/lock.ts";
import { parseArgs, stringFlag } from "../args.ts";
import { formatBackfill, formatEstimate } from "../format.ts";
import { type Backfill, plannedBackfills } from "../../run/open.ts";
import { out } from "../io.ts";
import { isDatabase, loadSpecRedacted, oneSpec, resourcesFlag, targetOf } from "../common.ts";

const USAGE = [
  "plan <spec.yaml> [--db DIR | --destination URL|postgres] [--resources a,b] [--json]",
];

const FLAGS = {
  db: "value",
  destination: "value",
  resources: "value",
  json: "flag",
} as const;

/** `restpipe plan`. */
export const planCommand: Command = {
  name: "plan",
  summary: "shows what the next run will request, from the last load's figures",
  usage: USAGE,
  flags: FLAGS,
  run: plan,
};

async function plan(argv: string[]): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  const { spec } = await loadSpecRedacted(oneSpec(args, "plan", usageText(USAGE)), {
    requireVariables: false,
  });
  const p = buildPlan(spec, resourcesFlag(args));
  const target = targetOf(args, stringFlag(args, "db") ?? defaultDbDir(spec));
  let last: LoadRecord | undefined;
  let backfills: Backfill[] = [];
  if (target.kind === "postgres" || await isDatabase(target.dir)) {
    if (target.kind === "pglite") await assertNotHeld(target.dir);
    const dest = await openTarget(target, "plan");
    try {
      last = (await dest.loads(spec.dataset)).find((l) => l.status === "completed");
      if (last) backfills = await plannedBackfills(dest, spec.dataset, p);
    } finally {
      await dest.close();
    }
  }
  const estimate = estimateRun(
    p,
    last?.resources ?? undefined,
    spec.source.limits.requests_per_minute,
  );
  if (args.flags.has("json")) {
    out(JSON.stringify({ basedOnLoad: last?.load_id ?? null, ...estimate, backfills }, null, 2));
  } else {
    out(formatEstimate(spec, estimate, last?.load_id));
    for (const b of backfills) out(formatBackfill(b));
  }
  return 0;
}
