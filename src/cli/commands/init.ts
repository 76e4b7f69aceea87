/**
 * `restpipe init`: writes a spec from an OpenAPI description
 *
 * @module
 */
import type { Command } from "../command.ts";
import { parse as parseYaml } from "yaml";
import type { OpenApiDocument } from "../../spec/openapi.ts";
import { describeCandidates, generateSpec } from "../../spec/init_openapi.ts";
import { parseArgs, stringFlag, UsageError } from "../args.ts";
import { err, out } from "../io.ts";
import { resourcesFlag } from "../common.ts";

const USAGE = ["init --openapi <file|url> [--resources /path,/path] [--out <spec.yaml>]"];

const FLAGS = { openapi: "value", resources: "value", out: "value" } as const;

/** `restpipe init`. */
export const initCommand: Command = {
  name: "init",
  summary: "writes a spec from an OpenAPI description",
  usage: USAGE,
  flags: FLAGS,
  run: init,
};

async function init(argv: string[]): Promise<number> {
  const args = parseArgs(argv, FLAGS);
  const file = stringFlag(args, "openapi");
  if (file === undefined) throw new UsageError("init needs --openapi <file>");
  const doc = await readOpenApi(file);
  const paths = resourcesFlag(args);
  if (paths === undefined) {
    out(
      `GET paths of ${file} that list records (pass some as --resources /a,/b/{id}/c):\n` +
        describeCandidates(doc),
    );
    return 0;
  }
  let text: string;
  const target = stringFlag(args, "out");
  // named after the file it is written to (pipelines/mine.yaml: pipeline mine, dataset
  // mine_data), never after the API alone, whose own spec may already load that dataset
  const name = target?.split("/").pop()?.replace(/\.ya?ml$/i, "");
  try {
    text = generateSpec(doc, { paths, source: file, name });
  } catch (e) {
    throw new UsageError(`--resources: ${(e as Error).message}`);
  }
  // what it could not infer, on stderr too (the spec has each as a "# guessed:" comment)
  const guessed = text.split("\n").map((l, i) => [i + 1, l.trim()] as const)
    .filter(([, l]) => l.startsWith("# guessed:"));
  for (const [line, l] of guessed) {
    err(`${target ?? "spec"}:${line}: ${l.slice(2)}`);
  }
  if (target === undefined) {
    out(text);
    return 0;
  }
  try {
    await Deno.writeTextFile(target, text, { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(`--out ${target}: the file exists; choose another name`);
    }
    throw e;
  }
  out(`wrote ${target}: review the lines marked "guessed", then deno task check ${target}`);
  return 0;
}

/** An OpenAPI description (YAML or JSON, gzipped or not) from a file or an http(s) URL. */
export async function readOpenApi(file: string): Promise<OpenApiDocument> {
  let text: string;
  try {
    if (/^https?:\/\//i.test(file)) {
      const res = await fetch(file, { headers: { accept: "application/yaml, application/json" } });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      text = file.endsWith(".gz")
        ? await new Response(res.body!.pipeThrough(new DecompressionStream("gzip"))).text()
        : await res.text();
    } else if (file.endsWith(".gz")) {
      const bytes = await Deno.readFile(file);
      text = await new Response(
        new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
      ).text();
    } else text = await Deno.readTextFile(file);
  } catch (e) {
    throw new UsageError(
      `--openapi ${file}: ${e instanceof Deno.errors.NotFound ? "no such file" : String(e)}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: -1 });
  } catch (e) {
    throw new UsageError(
      `--openapi ${file}: not YAML or JSON (${(e as Error).message.split("\n")[0]})`,
    );
  }
  if (typeof doc !== "object" || doc === null || !("paths" in doc)) {
    throw new UsageError(`--openapi ${file}: not an OpenAPI description (no paths)`);
  }
  return doc as OpenApiDocument;
}
