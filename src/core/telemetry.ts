/**
 * Metrics and traces through OpenTelemetry, exported by Deno's built-in OTLP exporter
 * when the run starts with `OTEL_DENO=true` (`OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_PROTOCOL` and the other standard variables say where and how).
 * Without it every instrument is OpenTelemetry's no-op: nothing is measured or sent.
 *
 * Instruments (meter `restpipe`): `restpipe.requests` (by resource and status class),
 * `restpipe.retries`, `restpipe.throttled` (429 answers), `restpipe.request.duration`
 * (ms, by resource), `restpipe.response.bytes`, `restpipe.rows` (records received, by
 * resource), `restpipe.rate_window.used` (requests in the rate window ÷ its limit),
 * `restpipe.run.duration` (s, by outcome); a `restpipe.run` span around each run, and
 * one `restpipe.request` span per request with the URL as the summary shows it (secrets
 * removed).
 *
 * @module
 */
import { metrics, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import config from "../../deno.json" with { type: "json" };

const meter = metrics.getMeter("restpipe", config.version);
const tracer = trace.getTracer("restpipe", config.version);

const requests = meter.createCounter("restpipe.requests", {
  description: "HTTP requests sent to the API, retries included",
});
const retries = meter.createCounter("restpipe.retries", {
  description: "Requests sent again after a 429, a 5xx, a timeout or a dropped connection",
});
const throttled = meter.createCounter("restpipe.throttled", {
  description: "Answers that were 429 (too many requests)",
});
const duration = meter.createHistogram("restpipe.request.duration", {
  description: "Time from sending a request to its whole body",
  unit: "ms",
});
const bytes = meter.createCounter("restpipe.response.bytes", {
  description: "Bytes of response bodies",
  unit: "By",
});
const rows = meter.createCounter("restpipe.rows", { description: "Records received" });
const windowUse = meter.createGauge("restpipe.rate_window.used", {
  description: "Requests in the rate window, as a share of its limit",
});
const runDuration = meter.createHistogram("restpipe.run.duration", {
  description: "A run's duration, commit included",
  unit: "s",
});

/** `OTEL_DENO=true`, read once: Deno decides at start whether it exports. */
const ENABLED = (() => {
  try {
    return Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false;
  }
})();

/** Is an OpenTelemetry exporter on (`OTEL_DENO=true`)? */
export function telemetryEnabled(): boolean {
  return ENABLED;
}

/** One request's figures, once its answer is read (status 0: no answer). */
export function recordRequest(
  resource: string,
  status: number,
  ms: number,
  url: string,
  responseBytes?: number,
): void {
  const attributes = {
    resource,
    "http.status_class": status === 0 ? "none" : `${Math.floor(status / 100)}xx`,
  };
  requests.add(1, attributes);
  duration.record(ms, { resource });
  if (responseBytes !== undefined) bytes.add(responseBytes, { resource });
  if (status === 429) throttled.add(1, { resource });
  if (telemetryEnabled()) {
    const start = performance.timeOrigin + performance.now() - ms;
    const span = tracer.startSpan("restpipe.request", {
      startTime: start,
      attributes: {
        resource,
        "http.request.method": "GET",
        "restpipe.url": url,
        "http.response.status_code": status,
      },
    });
    if (status === 0 || status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

/** A retry, about to be waited for. */
export function recordRetry(resource: string): void {
  retries.add(1, { resource });
}

/** Records of a page received. */
export function recordRows(resource: string, n: number): void {
  rows.add(n, { resource });
}

/** The rate window's use now (`inWindow` of `limit`). */
export function recordWindow(inWindow: number, limit: number | undefined): void {
  if (limit) windowUse.record(inWindow / limit);
}

/** Runs `fn` inside a `restpipe.run` span, and records the run's duration and outcome. */
export async function withRunSpan<T>(
  attributes: { pipeline: string; dataset: string },
  fn: () => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  return await tracer.startActiveSpan("restpipe.run", { attributes }, async (span: Span) => {
    let outcome = "loaded";
    try {
      return await fn();
    } catch (e) {
      outcome = "failed";
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw e;
    } finally {
      span.setAttribute("restpipe.outcome", outcome);
      span.end();
      runDuration.record((performance.now() - t0) / 1000, { ...attributes, outcome });
    }
  });
}
