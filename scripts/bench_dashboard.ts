/**
 * The dashboard's first render, for `deno task bench`: a 50-table dataset (10 resources,
 * each record with 4 lists: 10 root and 40 child tables, 200 records per resource),
 * `show --web` started afresh for every run, and headless Chromium timing navigation
 * start → the page's first complete render. Also the size of the page's assets.
 *
 * @module
 */
import { CHROMIUM, launchBrowser } from "../tests/browser.ts";
import { runPipeline } from "../src/pipeline.ts";
import { parseSpec } from "../src/spec/load.ts";
import { ASSET_DIR } from "../src/web/server.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** What {@linkcode benchDashboard} measured. */
export interface DashboardBench {
  tables: number;
  /** Navigation start → first render, per run (ms). */
  renders: number[];
  assetBytes: number;
}

/** A local API of 10 resources whose records hold 4 lists each. */
function fiftyTableApi(): { url: string; close(): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const r = new URL(req.url).pathname.slice(1);
    const records = Array.from({ length: 200 }, (_, i) => ({
      id: i,
      name: `${r} record ${i}`,
      created: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
      a: [{ x: i, y: "a" }],
      b: [{ x: i, y: "b" }, { x: i + 1, y: "b" }],
      c: [`c${i}`],
      d: [{ z: true }],
    }));
    return Response.json(records);
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

/** Loads the 50-table dataset, then times `runs` first renders. */
export async function benchDashboard(runs: number): Promise<DashboardBench | string> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    return `skipped: no Chromium at ${CHROMIUM}`;
  }
  const dir = await Deno.makeTempDir({ prefix: "restpipe-bench-web-" });
  const api = fiftyTableApi();
  try {
    const resources = Array.from(
      { length: 10 },
      (_, i) => `  r${i}:\n    path: /r${i}\n    primary_key: id\n    write_disposition: replace\n`,
    ).join("");
    const spec = parseSpec(
      `pipeline: fifty\ndataset: fifty_data\nsource:\n  base_url: ${api.url}\nresources:\n${resources}`,
      "fifty.yaml",
      { configDir: ROOT },
    ).spec;
    const result = await runPipeline(spec, { dbDir: `${dir}/db` });
    const tables = Object.keys(result.tables).length;
    const browser = await launchBrowser();
    const renders: number[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `${ROOT}src/cli/main.ts`, "show", "--web", "--db", `${dir}/db`],
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!/dashboard: (\S+)/.test(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`show --web ended: ${text}`);
          text += value;
        }
        const url = text.match(/dashboard: (\S+)/)![1];
        const page = await browser.newPage();
        await page.goto(url);
        await page.waitForSelector("body[data-rendered=yes]");
        renders.push(Number(await page.evaluate("globalThis.__restpipe.renderedAt")));
        await page.close();
        child.kill("SIGINT");
        await child.status;
        await reader.cancel().catch(() => {});
      }
    } finally {
      await browser.close();
    }
    let assetBytes = 0;
    for await (const e of Deno.readDir(ASSET_DIR)) {
      assetBytes += (await Deno.stat(new URL(e.name, ASSET_DIR))).size;
    }
    return { tables, renders, assetBytes };
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
}
