/**
 * The local dashboard: a read-only web page on 127.0.0.1 that draws what a destination
 * holds, and, during `run --web`, what the run is doing. Every request needs the token
 * printed with the URL (a new random one per start); anything else gets 403.
 *
 * @module
 */
import type { Destination } from "../load/destination.ts";
import type { Plan } from "../plan/plan.ts";
import type { Progress, RunResult } from "../pipeline.ts";
import {
  type Overview,
  queryCsv,
  readFleetRuns,
  readOverview,
  readTablePage,
  runReadOnly,
} from "./data.ts";

/** What a run serving the page reports; the page polls it. */
export interface LiveState {
  /** A run is extracting or committing: the destination is busy with it. */
  running: boolean;
  /** The latest progress snapshot. */
  progress: Progress | null;
  /** The run's result, once it committed. */
  result: RunResult | null;
  /** Why the run failed, once it failed (secrets already removed). */
  error: string | null;
}

/** Options for {@linkcode startDashboard}. */
export interface DashboardOptions {
  /** The destination to read (read-only). */
  dest: Destination;
  /** Show only this dataset (every dataset of the destination when undefined). */
  dataset?: string;
  /** The spec's plan: the graph shows every resource, even before its first load. */
  plan?: Plan;
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** A live run: the page shows its progress; the destination is not read while it runs. */
  live?: LiveState;
  /** Removes secrets from an error message before it is sent to the page. */
  redact?: (text: string) => string;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's address, token included. */
  url: string;
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** Stops serving. */
  close(): Promise<void>;
}

const ASSETS: Record<string, string> = {
  "/app.js": "text/javascript; charset=utf-8",
  "/app.css": "text/css; charset=utf-8",
};

/** The dashboard's static files (HTML, script, style), served by restpipe itself. */
export const ASSET_DIR: URL = new URL("./assets/", import.meta.url);

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

/** The datasets and the last load of each: the overview is unchanged while this is. */
async function loadsVersion(dest: Destination, dataset: string | undefined): Promise<string> {
  const names = dataset !== undefined ? [dataset] : await dest.datasets();
  const last = [];
  for (const name of names) {
    const [l] = await dest.loads(name, 1);
    last.push([name, l?.load_id, l?.status, l?.finished_at.getTime()]);
  }
  return JSON.stringify(last);
}

/** A new random token: 24 bytes, base64url. */
function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** Compares in time that does not depend on where the strings differ. */
function sameToken(given: string | null, token: string): boolean {
  if (given === null || given.length !== token.length) return false;
  let diff = 0;
  for (let i = 0; i < token.length; i++) diff |= given.charCodeAt(i) ^ token.charCodeAt(i);
  return diff === 0;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...SECURITY_HEADERS },
  });
}

function text(body: string, status: number): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS },
  });
}

/**
 * Serves the dashboard on 127.0.0.1 until {@linkcode Dashboard.close}. Nothing it serves
 * writes: queries run in a read-only transaction that is rolled back.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const token = newToken();
  const redact = options.redact ?? ((t: string) => t);
  const index = await Deno.readTextFile(new URL("index.html", ASSET_DIR));
  let cached: { overview: Overview; version: string } | undefined;
  const overview = async (): Promise<Overview> => {
    // while a run holds the destination, the page keeps the overview read before it began
    if (options.live?.running && cached) return cached.overview;
    // what the overview shows changes only with a load: a cheap look at the last ones
    const version = await loadsVersion(options.dest, options.dataset);
    if (cached?.version !== version) {
      const overview = await readOverview(options.dest, {
        dataset: options.dataset,
        plan: options.plan,
      });
      cached = { overview, version };
      return overview;
    }
    // the fleet's runs change without a load: read afresh (one small query)
    return { ...cached.overview, fleet: await readFleetRuns(options.dest) };
  };
  // read once before the address is printed: the page's first request finds a warm database
  await overview();
  const busy = () =>
    json({ error: "a run is loading into this database: tables open when it has committed" }, 409);

  const handle = async (req: Request, port: number): Promise<Response> => {
    const url = new URL(req.url);
    const host = req.headers.get("host");
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      return text("forbidden: unexpected Host header", 403);
    }
    if (!sameToken(url.searchParams.get("token"), token)) {
      return text("forbidden: open the address restpipe printed (it holds the token)", 403);
    }
    if (req.method !== "GET" && !(req.method === "POST" && url.pathname === "/api/sql")) {
      return text("method not allowed", 405);
    }
    switch (url.pathname) {
      case "/":
        return new Response(index.replaceAll("{{token}}", token), {
          headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS },
        });
      case "/api/overview":
        return json(await overview());
      case "/api/live":
        return json(options.live ?? null);
      case "/api/table": {
        if (options.live?.running) return busy();
        const page = await readTablePage(
          options.dest,
          url.searchParams.get("dataset") ?? "",
          url.searchParams.get("table") ?? "",
          {
            offset: Number(url.searchParams.get("offset") ?? 0) || 0,
            limit: Number(url.searchParams.get("limit") ?? 50) || 50,
            filter: url.searchParams.get("filter") ?? "",
          },
        );
        return page ? json(page) : json({ error: "no such table" }, 404);
      }
      case "/api/sql": {
        if (options.live?.running) return busy();
        const sql = req.method === "POST"
          ? String(((await req.json().catch(() => ({}))) as { sql?: unknown }).sql ?? "")
          : url.searchParams.get("sql") ?? "";
        if (sql.trim() === "") return json({ error: "no query" }, 400);
        try {
          return json(await runReadOnly(options.dest, sql));
        } catch (e) {
          return json({ error: redact(e instanceof Error ? e.message : String(e)) }, 400);
        }
      }
      case "/api/sql.csv": {
        if (options.live?.running) return busy();
        const sql = url.searchParams.get("sql") ?? "";
        if (sql.trim() === "") return text("no query", 400);
        try {
          return new Response(await queryCsv(options.dest, sql), {
            headers: {
              "content-type": "text/csv; charset=utf-8",
              "content-disposition": 'attachment; filename="query.csv"',
              ...SECURITY_HEADERS,
            },
          });
        } catch (e) {
          return text(redact(e instanceof Error ? e.message : String(e)), 400);
        }
      }
    }
    const type = ASSETS[url.pathname];
    if (type === undefined) return text("not found", 404);
    return new Response(await Deno.readFile(new URL(url.pathname.slice(1), ASSET_DIR)), {
      headers: { "content-type": type, ...SECURITY_HEADERS },
    });
  };

  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    async (req): Promise<Response> => {
      try {
        return await handle(req, server.addr.port);
      } catch (e) {
        return json({ error: redact(e instanceof Error ? e.message : String(e)) }, 500);
      }
    },
  );
  const port = server.addr.port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    close: () => server.shutdown(),
  };
}
