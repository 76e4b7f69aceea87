/**
 * Runs the fake Asana as its own process (for benchmarks and manual runs). Prints one
 * JSON line `{baseUrl, token, truth}`, then serves until killed.
 * `GET /__fake/stats` returns its counters; `GET /__fake/mutate?touch=0.01&add=N&remove=N&stories=N`
 * changes the organisation (FakeData.mutate) and answers what changed.
 *
 * Flags: --tasks N (total, about), --latency MS, --jitter MS, --rpm N, --in-flight N,
 * --fault-rate F, --offset-ttl MS, --seed N.
 *
 * @module
 */
import { parseArgs } from "../src/cli/args.ts";
import { sizedFor, startFakeAsana } from "../testing/fake_asana/mod.ts";

const args = parseArgs(Deno.args, {
  tasks: "value",
  latency: "value",
  jitter: "value",
  rpm: "value",
  "in-flight": "value",
  "fault-rate": "value",
  "offset-ttl": "value",
  seed: "value",
});
const num = (name: string): number | undefined => {
  const v = args.flags.get(name);
  return typeof v === "string" ? Number(v) : undefined;
};
const tasks = num("tasks") ?? 1000;
const rpm = num("rpm");
const fake = await startFakeAsana({
  ...sizedFor(tasks),
  seed: num("seed") ?? 42,
  latencyMs: num("latency") ?? 0,
  jitterMs: num("jitter") ?? 0,
  rateLimit: rpm ? { requests: rpm, windowMs: 60_000 } : undefined,
  maxInFlight: num("in-flight"),
  faultRate: num("fault-rate"),
  offsetTtlMs: num("offset-ttl"),
});
console.log(
  JSON.stringify({ baseUrl: fake.baseUrl, token: fake.token, truth: fake.groundTruth() }),
);
