/**
 * Measures what the mesh adds to a model call. Starts a zero-latency fake of the Anthropic API,
 * starts the five services pointed at it (every check on; real Postgres and Redis when
 * reachable), then drives POST /v1/messages at concurrency 1, 16 and 64 and the fake directly
 * at the same concurrency, and prints requests per second, p50/p99 latency, the latency added
 * over the direct call, and CPU milliseconds per request of each service.
 *
 * BENCH_SPANS=1 also collects every span over OTLP and prints, per service and span name, the
 * p50 duration at concurrency 1: where the added time goes. Exporting spans costs CPU, so the
 * latency figures of such a run are not the headline ones.
 */
import { readFileSync } from "node:fs";
import { startFakeAnthropic, startOtlpReceiver, type ReceivedSpan } from "@mesh/testing";
import { launchMesh, SERVICES, type ServiceName } from "../support/launch-mesh.js";
import {
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  assertRealServicesUp,
} from "../support/real-services.js";

const LEVELS = (process.env.BENCH_CONCURRENCY ?? "1,16,64").split(",").map(Number);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 300);
const KEY = "bench-key";
const SPANS = process.env.BENCH_SPANS === "1";
// Idle time between one caller's requests: separates the path's own cost from the trailing
// work (ledger and metrics writes) of the request before.
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 0);

const fake = await startFakeAnthropic({ zeroLatency: true });
const env: Record<string, string> = {
  GATEWAY_API_KEYS: `${KEY}=bench`,
  ANTHROPIC_API_KEY: "bench-upstream-key",
  ANTHROPIC_BASE_URL: fake.url,
  RATE_LIMIT_REQUESTS_PER_MINUTE: "100000000",
  // 0 switches the per-key token limit off; the bench measures the mesh, not the limiter.
  RATE_LIMIT_TOKENS_PER_MINUTE: "0",
  LOG_LEVEL: "warn",
};
let storage = "embedded PGlite, in-process stores";
try {
  await assertRealServicesUp();
  Object.assign(env, {
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: "bench",
    REDIS_URL: TEST_REDIS_URL,
  });
  storage = "Postgres + Redis on 127.0.0.1";
} catch {
  // Fall back to the embedded defaults; the table says which ran.
}

const receiver = SPANS ? await startOtlpReceiver() : undefined;
if (receiver) env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;

// BENCH_PROFILE_DIR=<dir> writes a V8 CPU profile of each service there on exit.
const profileDir = process.env.BENCH_PROFILE_DIR;
const nodeArgs = profileDir
  ? Object.fromEntries(SERVICES.map((s) => [s, ["--cpu-prof", `--cpu-prof-dir=${profileDir}/${s}`]]))
  : undefined;
const mesh = await launchMesh({ env, ...(nodeArgs ? { nodeArgs } : {}) });
const body = JSON.stringify({
  model: "claude-sonnet-4",
  max_tokens: 64,
  temperature: 0.7,
  messages: [{ role: "user", content: "Summarise the benefits of unit tests in one sentence." }],
});
const meshCall = () =>
  post(`${mesh.gatewayUrl}/v1/messages`, { "x-api-key": KEY, "content-type": "application/json" });
const directCall = () =>
  post(`${fake.url}/v1/messages`, { "x-api-key": "x", "content-type": "application/json" });

console.log(`storage: ${storage}; ${REQUESTS} requests per level after ${WARMUP} warm-up`);
const rows: string[] = [];
for (const concurrency of LEVELS) {
  await drive(meshCall, concurrency, WARMUP);
  await drive(directCall, concurrency, WARMUP);

  const direct = await drive(directCall, concurrency, REQUESTS);
  const spansBefore = receiver?.spans.length ?? 0;
  const cpuBefore = cpuMs();
  const viaMesh = await drive(meshCall, concurrency, REQUESTS);
  const cpuAfter = cpuMs();
  if (receiver && concurrency === 1) await printSpanBreakdown(receiver.spans, spansBefore);

  const cpu = SERVICES.map((s) => `${s}=${((cpuAfter[s] - cpuBefore[s]) / REQUESTS).toFixed(3)}`);
  rows.push(
    [
      `c=${String(concurrency).padEnd(3)}`,
      `mesh ${viaMesh.rps.toFixed(0).padStart(5)} req/s`,
      `p50 ${viaMesh.p50.toFixed(2)} ms`,
      `p99 ${viaMesh.p99.toFixed(2)} ms`,
      `| direct p50 ${direct.p50.toFixed(2)} ms p99 ${direct.p99.toFixed(2)} ms`,
      `| added p50 ${(viaMesh.p50 - direct.p50).toFixed(2)} ms`,
      `p99 ${(viaMesh.p99 - direct.p99).toFixed(2)} ms`,
      `errors ${viaMesh.errors}`,
      `\n       cpu ms/request: ${cpu.join(" ")}`,
    ].join("  "),
  );
  console.log(rows.at(-1));
}

await mesh.stop();
await fake.close();
await receiver?.close();

/** p50 duration of each service's spans of one name, over the spans received since `from`. */
async function printSpanBreakdown(spans: ReceivedSpan[], from: number): Promise<void> {
  // Spans are exported in batches; give the last ones time to arrive.
  await new Promise((r) => setTimeout(r, 6_000));
  const byName = new Map<string, number[]>();
  for (const span of spans.slice(from)) {
    const key = `${span.service} ${span.name}`;
    const list = byName.get(key) ?? [];
    list.push(Number(span.endNs - span.startNs) / 1e6);
    byName.set(key, list);
  }

  console.log("       span p50 at c=1 (ms), per request-level span:");
  const rows = [...byName.entries()]
    .filter(([, list]) => list.length >= REQUESTS * 0.9)
    .map(([key, list]) => [key, list.sort((a, b) => a - b)[list.length >> 1]!] as const)
    .sort((a, b) => b[1] - a[1]);
  for (const [key, p50] of rows) console.log(`         ${p50.toFixed(2).padStart(7)}  ${key}`);
}

async function post(url: string, headers: Record<string, string>): Promise<boolean> {
  const res = await fetch(url, { method: "POST", headers, body });
  await res.arrayBuffer();
  return res.ok;
}

async function drive(call: () => Promise<boolean>, concurrency: number, total: number) {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < total) {
        issued++;
        const t0 = performance.now();
        const ok = await call().catch(() => false);
        latencies.push(performance.now() - t0);
        if (!ok) errors++;
        if (GAP_MS > 0) await new Promise((r) => setTimeout(r, GAP_MS));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { rps: total / seconds, p50: pct(0.5), p99: pct(0.99), errors };
}

/** CPU time (user + system) each service process has used so far, in milliseconds. */
function cpuMs(): Record<ServiceName, number> {
  const ticksPerMs = 100 / 1000;
  const out = {} as Record<ServiceName, number>;
  for (const name of SERVICES) {
    const stat = readFileSync(`/proc/${mesh.processes[name].pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out[name] = (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
  }
  return out;
}
