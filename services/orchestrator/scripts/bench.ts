/**
 * Measures what the orchestrator itself adds to a model call. Starts zero-latency fakes of
 * the Anthropic and OpenAI APIs, starts the orchestrator as its own process pointed at them,
 * then, for each provider kind, unary and streamed, at concurrency 1 and 16:
 *
 * - calls the fake directly (plain HTTP, the same body) and through the orchestrator (gRPC
 *   Complete / StreamComplete, to the end of the answer);
 * - prints p50/p99 of both, the latency added (through minus direct, per percentile), and
 *   the orchestrator process's CPU milliseconds per request (user + system, /proc).
 *
 * Budget checks are off (no ledger runs here). Run: pnpm --filter @mesh/orchestrator bench
 * (BENCH_REQUESTS, BENCH_WARMUP, BENCH_CONCURRENCY="1,16" to change the load).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Role } from "@mesh/contracts/common/v1/chat_pb";
import { OrchestratorService } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import { createGrpcClient } from "@mesh/rpc";
import { startFakeAnthropic, startFakeOpenAI } from "@mesh/testing";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 300);
const LEVELS = (process.env.BENCH_CONCURRENCY ?? "1,16").split(",").map(Number);
const SERVICE_DIR = fileURLToPath(new URL("..", import.meta.url));
const PROMPT = "Summarise the benefits of unit tests in one sentence.";

const anthropic = await startFakeAnthropic({ zeroLatency: true });
const openai = await startFakeOpenAI({ zeroLatency: true });
const dir = mkdtempSync(join(tmpdir(), "orchestrator-bench-"));
const catalogPath = join(dir, "catalog.json");
writeFileSync(catalogPath, JSON.stringify(benchCatalog()));

const [grpcPort, httpPort] = [await freePort(), await freePort()];
const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
  cwd: SERVICE_DIR,
  stdio: ["ignore", "inherit", "inherit"],
  env: {
    PATH: process.env.PATH ?? "",
    LOG_LEVEL: "warn",
    ORCHESTRATOR_GRPC_PORT: String(grpcPort),
    ORCHESTRATOR_HTTP_PORT: String(httpPort),
    ORCHESTRATOR_CATALOG: catalogPath,
    ORCHESTRATOR_BUDGETS: "false",
    BENCH_ANTHROPIC_KEY: "bench",
    BENCH_OPENAI_KEY: "bench",
  },
});
await waitReady(`http://127.0.0.1:${httpPort}/ready`);
const client = createGrpcClient(OrchestratorService, `127.0.0.1:${grpcPort}`);

const params = (model: string) => ({
  model,
  maxTokens: 64,
  temperature: 0.7,
  messages: [{ role: Role.USER, content: [{ block: { case: "text" as const,
    value: { text: PROMPT } } }] }],
});
const cases = [
  { name: "anthropic unary ", model: "bench-anthropic", stream: false },
  { name: "anthropic stream", model: "bench-anthropic", stream: true },
  { name: "openai unary    ", model: "bench-openai", stream: false },
  { name: "openai stream   ", model: "bench-openai", stream: true },
];

console.log(`orchestrator bench: ${REQUESTS} requests per row after ${WARMUP} warm-up; ` +
  "zero-latency fakes; budgets off; latency to the end of the answer");
for (const c of cases) {
  const through = async () => {
    if (!c.stream) {
      const { result } = await client.complete({ params: params(c.model) });
      return result !== undefined;
    }
    let done = false;
    for await (const r of client.streamComplete({ params: params(c.model) })) {
      if (r.event?.event.case === "done") done = true;
    }
    return done;
  };
  const direct = () => c.model === "bench-anthropic"
    ? post(`${anthropic.url}/v1/messages`, { model: "claude-bench", max_tokens: 64,
      stream: c.stream, messages: [{ role: "user", content: [{ type: "text", text: PROMPT }] }] })
    : post(`${openai.url}/chat/completions`, { model: "gpt-bench", max_completion_tokens: 64,
      stream: c.stream, ...(c.stream ? { stream_options: { include_usage: true } } : {}),
      messages: [{ role: "user", content: PROMPT }] });

  for (const concurrency of LEVELS) {
    await drive(through, concurrency, WARMUP);
    await drive(direct, concurrency, WARMUP);

    const base = await drive(direct, concurrency, REQUESTS);
    const cpuBefore = cpuMs(child.pid ?? 0);
    const via = await drive(through, concurrency, REQUESTS);
    const cpu = (cpuMs(child.pid ?? 0) - cpuBefore) / REQUESTS;

    console.log([
      `${c.name} c=${String(concurrency).padEnd(2)}`,
      `via p50 ${via.p50.toFixed(2)} p99 ${via.p99.toFixed(2)} ms`,
      `direct p50 ${base.p50.toFixed(2)} p99 ${base.p99.toFixed(2)} ms`,
      `added p50 ${(via.p50 - base.p50).toFixed(2)} p99 ${(via.p99 - base.p99).toFixed(2)} ms`,
      `cpu ${cpu.toFixed(3)} ms/req`,
      `${via.rps.toFixed(0)} req/s`,
      `errors ${via.errors}`,
    ].join(" | "));
  }
}

client.close();
child.kill("SIGTERM");
await new Promise((resolve) => child.once("exit", resolve));
await anthropic.close();
await openai.close();
rmSync(dir, { recursive: true, force: true });

function benchCatalog() {
  const model = (name: string, tier: string, deployment: object) => ({
    name,
    tier,
    context_window: 200_000,
    max_output_tokens: 4_096,
    capabilities: { tools: true, images: true, reasoning: false },
    expected_latency_ms: 1,
    prices: { input: "3", output: "15", cache_write: "3.75", cache_read: "0.30" },
    deployments: [deployment],
  });
  return {
    version: 1,
    models: [
      model("bench-anthropic", "balanced", { name: "fake", provider: "anthropic",
        upstream_model: "claude-bench", base_url: anthropic.url,
        api_key_env: "BENCH_ANTHROPIC_KEY" }),
      model("bench-openai", "fast", { name: "fake", provider: "openai",
        upstream_model: "gpt-bench", base_url: openai.url, api_key_env: "BENCH_OPENAI_KEY" }),
    ],
  };
}

async function post(url: string, body: object): Promise<boolean> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer bench" },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.ok;
}

async function drive(call: () => Promise<boolean>, concurrency: number, total: number) {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (issued < total) {
      issued++;
      const t0 = performance.now();
      const ok = await call().catch(() => false);
      latencies.push(performance.now() - t0);
      if (!ok) errors++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { rps: total / seconds, p50: pct(0.5), p99: pct(0.99), errors };
}

/** CPU time (user + system) a process has used so far, in milliseconds (Linux /proc). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15, in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the orchestrator did not become ready at ${url}`);
}
