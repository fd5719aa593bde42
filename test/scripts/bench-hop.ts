/**
 * The floor under the mesh's latency: what one cross-process call costs on this machine with
 * nothing behind it. Starts a child process serving an empty gRPC unary method (grpc-js, as
 * the mesh's services do) and an empty HTTP/1.1 endpoint, then calls each from this process
 * one at a time and prints p50/p99, beside a Redis PING (the gateway's limit check is one
 * Redis round trip). A request through the mesh makes at least three such gRPC calls in series
 * (input check, orchestrator, output check) and one Redis round trip on top of the provider's
 * HTTP call that a direct caller also makes.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { MetricsService } from "@mesh/contracts/metrics/v1/metrics_pb";
import { createGrpcClient } from "@mesh/rpc";
import { Redis } from "ioredis";
import { TEST_REDIS_URL } from "../support/real-services.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 5_000);
const WARMUP = 1_000;

const SERVER = `
const grpc = require("@grpc/grpc-js");
const http = require("node:http");
const server = new grpc.Server();
const same = (b) => b;
server.register("/bench.Hop/Ping", (call, done) => done(null, call.request), same, same, "unary");
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, grpcPort) => {
  if (err) throw err;
  const web = http.createServer((req, res) => res.end("{}"));
  web.keepAliveTimeout = 60_000;
  web.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ grpcPort, httpPort: web.address().port }) + "\\n");
  });
});
`;

// The same empty call through the mesh's own RPC layer (libs/rpc: protobuf-es messages, W3C
// trace propagation, server spans, handler context), on a metrics.v1 method.
const MESH_SERVER = `
import { startGrpcServer, registerService } from "@mesh/rpc";
import { createLogger } from "@mesh/logging";
import { MetricsService } from "@mesh/contracts/metrics/v1/metrics_pb";
const server = await startGrpcServer({
  host: "127.0.0.1", port: 0, logger: createLogger("hop", "silent"), tracerName: "hop",
  // Every method answers an empty message; the bench calls RecordObservations.
  services: [registerService(MetricsService, Object.fromEntries(
    MetricsService.methods.map((m) => [m.localName, async () => ({})]),
  ))],
});
process.stdout.write(JSON.stringify({ meshPort: server.port }) + "\\n");
`;

const meshChild = spawn(
  process.execPath,
  ["--import", "tsx", "--input-type=module", "-e", MESH_SERVER],
  { cwd: new URL("../../libs/rpc/", import.meta.url), stdio: ["ignore", "pipe", "inherit"] },
);
const [meshLine] = (await once(meshChild.stdout, "data")) as [Buffer];
const { meshPort } = JSON.parse(meshLine.toString()) as Record<string, number>;
const meshClient = createGrpcClient(MetricsService, `127.0.0.1:${meshPort}`);
const meshCall = async () => {
  await meshClient.recordObservations({ observations: [{ requestId: "r", model: "m" }] });
};

const child = spawn(process.execPath, ["-e", SERVER], {
  cwd: new URL("../../libs/rpc/", import.meta.url),
  stdio: ["ignore", "pipe", "inherit"],
});
const [line] = (await once(child.stdout, "data")) as [Buffer];
const { grpcPort, httpPort } = JSON.parse(line.toString()) as Record<string, number>;

const client = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
const payload = Buffer.alloc(64, 1);
const same = (b: Buffer) => b;
const grpcCall = () =>
  new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest("/bench.Hop/Ping", same, same, payload, (err) =>
      err ? reject(err) : resolve(),
    );
  });
const httpCall = async () => {
  const res = await fetch(`http://127.0.0.1:${httpPort}/`, { method: "POST", body: "{}" });
  await res.arrayBuffer();
};

const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
const reachable = await redis.connect().then(() => true, () => false);
const redisCall = async () => {
  await redis.ping();
};

console.log(`one caller, ${CALLS} calls after ${WARMUP} warm-up, to another process:`);
for (const [name, call] of [
  ["grpc-js unary", grpcCall],
  ["mesh rpc (libs/rpc)", meshCall],
  ["HTTP/1.1 POST (fetch)", httpCall],
  ...(reachable ? [["Redis PING", redisCall] as const] : []),
] as const) {
  await measure(call, WARMUP);
  const { p50, p99 } = await measure(call, CALLS);
  console.log(`  ${name.padEnd(22)} p50 ${p50.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms`);
}

client.close();
meshClient.close();
redis.disconnect();
child.kill();
meshChild.kill();

async function measure(call: () => Promise<void>, count: number) {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await call();
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * count))]!;
  return { p50: at(0.5), p99: at(0.99) };
}
