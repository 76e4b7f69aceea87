/**
 * The Postgres rendering of the disposition rules (`rules.ts`): each rule becomes a
 * few statements. Rules that pick rows insert their `_dlt_id`s into the family's
 * `gone` table (deleted afterwards with their child rows); history rules update
 * `_dlt_valid_from` / `_dlt_valid_to`. Lists (refreshed parents, current keys) travel
 * as one JSON parameter into a temp table.
 *
 * @module
 */
import { quoteIdent as q, quoteLiteral } from "../normalize/naming.ts";
import { SYSTEM_COLUMNS as S } from "../normalize/schema.ts";
import type { DeleteRule, HistoryRule } from "./rules.ts";

/** One statement: its text, its parameters, and whether it runs again until it changes nothing. */
export interface Statement {
  text: string;
  params?: unknown[];
  /** Run again while it changes rows (a cascade to any depth). */
  repeat?: boolean;
}

/** The names one family's statements use. */
export interface FamilyNames {
  dataset: string;
  /** The root table. */
  table: string;
  /** The family's place in the commit: its temp tables are suffixed with it. */
  index: number;
  loadId: string;
  /** The run's start (scd2 versions open and close at it). */
  startedAt: Date;
  keys: readonly string[];
}

/** The quoted, qualified name of a table of the dataset. */
export function tableName(dataset: string, table: string): string {
  return `${q(dataset)}.${q(table)}`;
}

/** The temp table of a family's rows to delete. */
export function goneTable(n: FamilyNames): string {
  return `_restpipe_gone_${n.index}`;
}

/** The temp table of the keys a family's commit deleted (no row left). */
export function goneKeysTable(n: FamilyNames): string {
  return `_restpipe_gone_keys_${n.index}`;
}

/**
 * A row's key as canonical text, exactly as `canonicalKey` writes it in TypeScript: the
 * one key column as text (key columns are text, bigint or numeric, whose text forms are
 * canonical), or several as a JSON list of texts.
 */
export function keyText(alias: string, keys: readonly string[]): string {
  const parts = keys.map((k) => `${alias}.${q(k)}::text`);
  return parts.length === 1 ? parts[0] : `array_to_json(array[${parts.join(", ")}])::text`;
}

/** A temp table of text values, filled from a list. */
export function textTable(name: string, values: readonly string[]): Statement[] {
  const out: Statement[] = [{
    text: `create temp table ${name} (v text primary key) on commit drop`,
  }];
  if (values.length > 0) {
    out.push({
      text:
        `insert into ${name} select distinct value from jsonb_array_elements_text($1::text::jsonb)`,
      params: [JSON.stringify(values)],
    });
  }
  return out;
}

function pick(n: FamilyNames, select: string): Statement {
  return { text: `insert into ${goneTable(n)} ${select} on conflict do nothing` };
}

/** The same key twice in this load: every row but the one with the highest row id. */
function dedupe(n: FamilyNames): Statement {
  const t = tableName(n.dataset, n.table);
  const id = q(S.id);
  const load = q(S.loadId);
  const current = quoteLiteral(n.loadId);
  const same = n.keys.map((k) => `a.${q(k)} = b.${q(k)}`).join(" and ");
  return pick(
    n,
    `select a.${id} from ${t} a join ${t} b on ${same}
       where a.${load} = ${current} and b.${load} = ${current}
         and a.${id} collate "C" < b.${id} collate "C"`,
  );
}

/**
 * The statements of a rule that picks rows to delete. `deleted` names, per parent
 * table, the temp table of the keys its family deleted (a cascade from a parent that
 * deleted nothing renders nothing).
 */
export function deleteRuleSql(
  rule: DeleteRule,
  n: FamilyNames,
  deleted: ReadonlyMap<string, string>,
): Statement[] {
  const t = tableName(n.dataset, n.table);
  const id = q(S.id);
  const load = q(S.loadId);
  const current = quoteLiteral(n.loadId);
  const older = `${load} is distinct from ${current}`;
  switch (rule.kind) {
    case "dedupe":
      return [dedupe(n)];
    case "all_older":
      return [pick(n, `select ${id} from ${t} where ${older}`)];
    case "same_key": {
      const same = n.keys.map((k) => `o.${q(k)} = n.${q(k)}`).join(" and ");
      return [pick(
        n,
        `select o.${id} from ${t} o join ${t} n on ${same}
       where n.${load} = ${current} and o.${load} is distinct from ${current}`,
      )];
    }
    case "within_parents": {
      const parents = `_restpipe_parents_${n.index}`;
      return [
        ...textTable(parents, rule.parents),
        pick(
          n,
          `select ${id} from ${t} where ${older}
       and ${q(S.parentKey)} in (select v from ${parents})`,
        ),
      ];
    }
    case "reconcile": {
      const currentKeys = `_restpipe_current_${n.index}`;
      return [
        ...textTable(currentKeys, rule.keys),
        pick(
          n,
          `select r.${id} from ${t} r where r.${older}
       and ${keyText("r", n.keys)} not in (select v from ${currentKeys})`,
        ),
      ];
    }
    case "verified_gone": {
      const goneKeys = `_restpipe_verified_${n.index}`;
      return [
        ...textTable(goneKeys, rule.keys),
        pick(
          n,
          `select r.${id} from ${t} r where r.${older}
       and ${keyText("r", n.keys)} in (select v from ${goneKeys})`,
        ),
      ];
    }
    case "cascade": {
      const parentDeleted = deleted.get(rule.parentTable);
      if (!parentDeleted) return [];
      return [pick(
        n,
        `select ${id} from ${t} where ${q(S.parentKey)} in (select v from ${parentDeleted})`,
      )];
    }
    case "cascade_recursive": {
      const deletedKey = `select ${keyText("g", n.keys)} from ${t} g
      where g.${id} in (select id from ${goneTable(n)})
      and ${keyText("g", n.keys)} not in
        (select ${keyText("n", n.keys)} from ${t} n where n.${load} = ${current})`;
      return [{
        text: `insert into ${goneTable(n)} select r.${id} from ${t} r
         where r.${q(S.parentKey)} in (${deletedKey}) on conflict do nothing`,
        repeat: true,
      }];
    }
  }
}

/** The statements of a history (scd2) rule. */
export function historyRuleSql(rule: HistoryRule, n: FamilyNames): Statement[] {
  const t = tableName(n.dataset, n.table);
  const id = q(S.id);
  const load = q(S.loadId);
  const current = quoteLiteral(n.loadId);
  const at = `${quoteLiteral(n.startedAt.toISOString())}::timestamptz`;
  const to = q(S.validTo);
  const open = `o.${load} is distinct from ${current} and o.${to} is null`;
  const match = n.keys.map((k) => `o.${q(k)} = n.${q(k)}`).join(" and ");
  const seen = `_restpipe_scd2_seen_${n.index}`;
  switch (rule.kind) {
    case "dedupe":
      return [dedupe(n)];
    case "note_listed":
      return [{
        text: `create temp table ${seen} on commit drop as
       select distinct ${keyText("n", n.keys)} as v from ${t} n where n.${load} = ${current}`,
      }];
    case "drop_unchanged":
      return [pick(
        n,
        `select n.${id} from ${t} n join ${t} o on ${match}
       where n.${load} = ${current} and ${open} and o.${q(S.hash)} = n.${q(S.hash)}`,
      )];
    case "close_changed":
      return [{
        text: `update ${t} o set ${to} = ${at}
       where ${open} and exists (select 1 from ${t} n
         where n.${load} = ${current} and ${match})`,
      }];
    case "retire_absent": {
      const parents = `_restpipe_scd2_parents_${n.index}`;
      const scope = rule.within === "all"
        ? "true"
        : `o.${q(S.parentKey)} in (select v from ${parents})`;
      return [
        ...(rule.within === "all" ? [] : textTable(parents, rule.within)),
        {
          text: `update ${t} o set ${to} = ${at} where ${open} and ${scope}
         and ${keyText("o", n.keys)} not in (select v from ${seen})`,
        },
      ];
    }
    case "retire_unlisted": {
      const currentKeys = `_restpipe_scd2_current_${n.index}`;
      return [
        ...textTable(currentKeys, rule.keys),
        {
          text: `update ${t} o set ${to} = ${at} where ${open}
         and ${keyText("o", n.keys)} not in (select v from ${currentKeys})`,
        },
      ];
    }
    case "open_new":
      return [{
        text: `update ${t} set ${q(S.validFrom)} = ${at}, ${to} = null where ${load} = ${current}`,
      }];
  }
}

/** Deletes a family's picked rows: the child tables' rows first, then the root's. */
export function deleteGoneSql(n: FamilyNames, children: readonly string[]): Statement[] {
  const gone = goneTable(n);
  return [
    ...children.map((c) => ({
      text: `delete from ${tableName(n.dataset, c)} where ${
        q(S.rootId)
      } in (select id from ${gone})`,
    })),
    {
      text: `delete from ${tableName(n.dataset, n.table)} where ${
        q(S.id)
      } in (select id from ${gone})`,
    },
  ];
}
