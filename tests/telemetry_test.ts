/**
 * Metrics and traces through OpenTelemetry (`OTEL_DENO=true`), received by a local OTLP
 * receiver (an HTTP server on 127.0.0.1 that keeps what it gets, as JSON): the counters
 * equal what the API saw, the run and its requests are spans, and no secret is in any of
 * it; a spec that puts a secret into its URLs runs with metrics only.
 */
import assert from "node:assert/strict";
import { runCli, tempDir, writeSpec } from "./helpers.ts";
import { FAST_RETRY, json, serveHostile } from "./hostile.ts";

const TOKEN = "tok-otel-0123456789abcdef";

/** An OTLP/HTTP receiver: every body it got, by signal (`metrics`, `traces`, `logs`). */
function otlpReceiver() {
  const got: { signal: string; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({ signal: new URL(req.url).pathname.split("/").at(-1)!, body: await req.text() });
    return Response.json({});
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    got,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

type Attr = { key: string; value: { stringValue?: string; intValue?: string } };
type Point = {
  asInt?: string;
  asDouble?: number;
  sum?: number;
  count?: string;
  attributes?: Attr[];
};

/** Every data point of a metric, across the bodies received. */
function pointsOf(got: { signal: string; body: string }[], name: string): Point[] {
  const out: Point[] = [];
  for (const g of got.filter((g) => g.signal === "metrics")) {
    for (const rm of JSON.parse(g.body).resourceMetrics ?? []) {
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          if (m.name !== name) continue;
          out.push(...(m.sum?.dataPoints ?? m.histogram?.dataPoints ?? m.gauge?.dataPoints ?? []));
        }
      }
    }
  }
  return out;
}

/** The last cumulative value of a counter, summed over its attribute sets. */
function counter(got: { signal: string; body: string }[], name: string): number {
  const last = new Map<string, number>();
  for (const p of pointsOf(got, name)) {
    last.set(JSON.stringify(p.attributes ?? []), Number(p.asInt ?? p.asDouble ?? 0));
  }
  return [...last.values()].reduce((a, b) => a + b, 0);
}

/** Names of the spans received. */
function spanNames(got: { signal: string; body: string }[]): string[] {
  const out: string[] = [];
  for (const g of got.filter((g) => g.signal === "traces")) {
    for (const rs of JSON.parse(g.body).resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) out.push(s.name);
    }
  }
  return out;
}

Deno.test("OTEL_DENO=true: requests, retries, 429s, rows and the run's duration reach an OTLP receiver, with spans, and no secret", async () => {
  await using dir = await tempDir();
  await using otlp = otlpReceiver();
  let calls = 0;
  await using api = serveHostile((url, req) => {
    if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) return json({}, 401);
    calls++;
    if (calls === 1) {
      return json({ errors: [{ message: "slow down" }] }, 429, { "retry-after": "0" });
    }
    if (calls === 2) return json({ errors: [{ message: "oops" }] }, 503);
    const page = Number(url.searchParams.get("page") ?? 1);
    return json({
      data: Array.from({ length: 5 }, (_, i) => ({ id: `${page}-${i}` })),
      next: page < 3 ? `${url.origin}/items?page=${page + 1}` : null,
    });
  });
  const file = await writeSpec(
    dir.path,
    `pipeline: o
dataset: o_data
source:
  base_url: ${api.url}
  auth: { type: bearer, token: "\${O_TOKEN}" }
  records: data
  paginator: { type: next_url, next_url_path: next }
  retry: { attempts: 4, backoff_seconds: 0.01, timeout_seconds: 5 }
resources:
  items: { path: /items, primary_key: id }
`,
  );
  const r = await runCli(["run", file, "--db", `${dir.path}/db`, "--quiet"], {
    O_TOKEN: TOKEN,
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "200",
    OTEL_SERVICE_NAME: "restpipe-test",
  }, dir.path);
  assert.equal(r.code, 0, r.stderr);
  // exported on exit; the receiver may still be reading the last body
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(counter(otlp.got, "restpipe.requests"), calls, "requests");
  assert.equal(counter(otlp.got, "restpipe.retries"), 2, "retries");
  assert.equal(counter(otlp.got, "restpipe.throttled"), 1, "429s");
  assert.equal(counter(otlp.got, "restpipe.rows"), 15, "rows");
  assert.ok(counter(otlp.got, "restpipe.response.bytes") > 0, "bytes");
  assert.ok(pointsOf(otlp.got, "restpipe.request.duration").length > 0, "request durations");
  assert.ok(pointsOf(otlp.got, "restpipe.run.duration").length > 0, "run duration");
  const spans = spanNames(otlp.got);
  assert.ok(spans.includes("restpipe.run"), spans.join(", "));
  assert.equal(spans.filter((s) => s === "restpipe.request").length, calls);
  const all = otlp.got.map((g) => g.body).join("\n");
  assert.equal(all.includes(TOKEN), false, "the token reached the telemetry");
});

Deno.test("a spec with its API key in the query string: refused with OTEL_DENO tracing (exit 2), loaded with metrics only, and the key in none of it", async () => {
  await using dir = await tempDir();
  await using otlp = otlpReceiver();
  const KEY = "key-in-query-9876543210";
  await using api = serveHostile((url) =>
    url.searchParams.get("api_key") === KEY ? json({ data: [{ id: "1" }] }) : json({}, 401)
  );
  const file = await writeSpec(
    dir.path,
    `pipeline: q
dataset: q_data
source:
  base_url: ${api.url}
  auth: { type: api_key, name: api_key, api_key: "\${Q_KEY}", location: query }
  records: data
${FAST_RETRY}resources:
  items: { path: /items, primary_key: id }
`,
  );
  const env = {
    Q_KEY: KEY,
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "200",
  };
  const refused = await runCli(["run", file, "--db", `${dir.path}/db`, "--quiet"], env, dir.path);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /set OTEL_DENO_TRACING=false to export metrics only/);
  const ok = await runCli(["run", file, "--db", `${dir.path}/db`, "--quiet"], {
    ...env,
    OTEL_DENO_TRACING: "false",
  }, dir.path);
  assert.equal(ok.code, 0, ok.stderr);
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(counter(otlp.got, "restpipe.requests"), 1);
  assert.equal(otlp.got.map((g) => g.body).join("\n").includes(KEY), false);
});
