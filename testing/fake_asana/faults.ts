/**
 * Bad days: a share of requests answered with 500, 502, 503 or a connection dropped
 * halfway through the body, and rules that fail the requests of matching paths.
 *
 * @module
 */
import { errorBody, json } from "./respond.ts";

/** A fault rule: requests whose path matches answer with this status. */
export interface FaultRule {
  match: RegExp;
  status: number;
}

/** A random fault for this request (`rate`: the share of requests, 0..1), or undefined. */
export function randomFault(rate: number | undefined): Response | undefined {
  if (!rate || Math.random() >= rate) return undefined;
  const kind = Math.floor(Math.random() * 4);
  if (kind < 3) {
    const status = [500, 502, 503][kind];
    return json(status, errorBody(status === 500 ? "Server Error" : "Bad Gateway", status));
  }
  // a dropped connection: headers, then half a body, then the stream breaks
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"data":[{"gid":'));
      controller.error(new Error("connection reset"));
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
}

/** The first rule matching a path, if any. */
export function ruleFor(rules: readonly FaultRule[], path: string): FaultRule | undefined {
  return rules.find((rule) => rule.match.test(path));
}
