import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { OrchestratorService } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import { createLogger } from "@mesh/logging";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createGrpcClient,
  createHealthProbe,
  GrpcStatus,
  registerService,
  RpcError,
  startGrpcServer,
  type GrpcServerHandle,
} from "./index.js";

let server: GrpcServerHandle;
let address: string;
// The signals handlers saw, by request id, to check when they were aborted.
const signals = new Map<string, AbortSignal>();

beforeAll(async () => {
  server = await startGrpcServer({
    host: "127.0.0.1",
    port: 0,
    logger: createLogger("rpc-test", "silent"),
    tracerName: "rpc-test",
    services: [
      registerService(OrchestratorService, {
        async complete(req, call) {
          signals.set(req.requestId, call.signal);
          if (req.requestId.startsWith("slow")) await new Promise((r) => setTimeout(r, 300));
          if (!req.requestId) throw new RpcError(GrpcStatus.INVALID_ARGUMENT, "no id", "bad_id");
          return { result: { requestId: req.requestId, model: "m" } };
        },
        async *streamComplete(req) {
          yield { event: { event: { case: "textDelta", value: { index: 0, text: "a" } } } };
          if (req.requestId === "fail") {
            throw new RpcError(GrpcStatus.UNAVAILABLE, "upstream went away", "stream_interrupted");
          }
          yield { event: { event: { case: "textDelta", value: { index: 0, text: "b" } } } };
        },
        async listModels() {
          throw new Error("secret detail that must not reach the caller");
        },
      }),
    ],
  });
  address = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.shutdown(1_000);
});

describe("grpc server and client over protobuf-es", () => {
  it("aborts a handler's signal when the caller cancels, and not after it answered", async () => {
    const client = createGrpcClient(OrchestratorService, address);
    const leave = new AbortController();

    await client.complete({ requestId: "answered" });
    const cut = rpcErrorOf(client.complete({ requestId: "slow-cut" }, { signal: leave.signal }));
    await new Promise((r) => setTimeout(r, 100));
    leave.abort();
    await cut;
    await new Promise((r) => setTimeout(r, 100));
    client.close();

    expect(signals.get("answered")?.aborted).toBe(false);
    expect(signals.get("slow-cut")?.aborted).toBe(true);
    expect((signals.get("slow-cut")?.reason as RpcError).code).toBe(GrpcStatus.CANCELLED);
  });

  it("carries a handler's status code and reason to the caller", async () => {
    const client = createGrpcClient(OrchestratorService, address);

    const ok = await client.complete({ requestId: "r1" });
    const err = await rpcErrorOf(client.complete({}));
    const internal = await rpcErrorOf(client.listModels({}));
    client.close();

    expect(ok.result?.requestId).toBe("r1");
    expect(err).toBeInstanceOf(RpcError);
    expect([err.code, err.message, err.reason]).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "no id",
      "bad_id",
    ]);
    expect(internal.code).toBe(GrpcStatus.INTERNAL);
    expect(internal.message).not.toContain("secret");
  });

  it("refuses bytes that are not the request message as INVALID_ARGUMENT", async () => {
    // Field 1 says five bytes follow; one does.
    const truncated = Buffer.from([0x0a, 0x05, 0x61]);
    const raw = new grpc.Client(address, grpc.credentials.createInsecure());
    const path = "/orchestrator.v1.OrchestratorService/";
    const same = (b: Buffer) => b;

    const unary = await new Promise<grpc.ServiceError | null>((resolve) => {
      raw.makeUnaryRequest(`${path}Complete`, same, same, truncated, (err) => resolve(err));
    });
    const stream = await new Promise<grpc.ServiceError>((resolve) => {
      const call = raw.makeServerStreamRequest(`${path}StreamComplete`, same, same, truncated);
      call.on("data", () => undefined);
      call.on("error", resolve);
    });
    raw.close();

    for (const err of [unary!, stream]) {
      expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect(err.details).toMatch(
        /^the request is not a valid orchestrator\.v1\.\w+Request message \(.+\); send it/,
      );
    }
  });

  it("streams messages and ends a failed stream with the handler's status", async () => {
    const client = createGrpcClient(OrchestratorService, address);
    const texts: string[] = [];

    for await (const m of client.streamComplete({ requestId: "ok" })) {
      if (m.event?.event.case === "textDelta") texts.push(m.event.event.value.text);
    }
    const failed: string[] = [];
    const err = await (async () => {
      for await (const m of client.streamComplete({ requestId: "fail" }, { timeoutMs: 3_000 })) {
        if (m.event?.event.case === "textDelta") failed.push(m.event.event.value.text);
      }
    })().then(() => undefined, (e: RpcError) => e);
    client.close();

    expect(texts).toEqual(["a", "b"]);
    expect(failed).toEqual(["a"]);
    expect(err).toBeInstanceOf(RpcError);
    expect([(err as RpcError).code, (err as RpcError).reason]).toEqual([
      GrpcStatus.UNAVAILABLE,
      "stream_interrupted",
    ]);
  });

  it("answers grpc.health.v1 and reflection", async () => {
    const probe = createHealthProbe(address);
    await expect(probe.check()).resolves.toBeUndefined();

    const services = await listServicesByReflection(address);
    expect(services).toEqual(["orchestrator.v1.OrchestratorService"]);
    probe.close();
  });

  it("reports NOT_SERVING once told to", async () => {
    const other = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      logger: createLogger("rpc-test", "silent"),
      tracerName: "rpc-test",
      services: [],
    });
    const probe = createHealthProbe(`127.0.0.1:${other.port}`);

    await probe.check();
    other.markNotServing();
    await expect(probe.check()).rejects.toThrow("not serving (status 2)");
    probe.close();
    await other.shutdown(1_000);
  });
});

/** Lists services through grpc.reflection.v1, as grpcurl does. */
async function listServicesByReflection(target: string): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const protoPath = require.resolve(
    "@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
  );
  const definition = protoLoader.loadSync(protoPath, { keepCase: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const Reflection = loaded.grpc.reflection.v1.ServerReflection;
  const client = new Reflection(target, grpc.credentials.createInsecure());

  type Reply = { list_services_response?: { service: { name: string }[] } };
  const open = client.ServerReflectionInfo as () => grpc.ClientDuplexStream<unknown, Reply>;

  return new Promise((resolve, reject) => {
    const call = open.call(client);
    call.on("data", (reply: Reply) => {
      resolve(reply.list_services_response?.service.map((s) => s.name) ?? []);
      call.end();
      client.close();
    });
    call.on("error", reject);
    call.write({ list_services: "" });
  });
}

async function rpcErrorOf(call: Promise<unknown>): Promise<RpcError> {
  const outcome = await call.then(() => undefined, (e: unknown) => e);
  if (!(outcome instanceof RpcError)) throw new Error("expected the call to fail with RpcError");
  return outcome;
}
