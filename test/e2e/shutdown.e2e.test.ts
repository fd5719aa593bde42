import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import { createGrpcClient } from "@mesh/rpc";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import { eventually } from "../support/real-services.js";

const KEY = "drain-key";
let mesh: RunningMesh;
let fake: FakeAnthropic;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "mesh-drain-"));
  // Every answer takes 1.5 s upstream, so both requests are in flight when SIGTERM lands.
  fake = await startFakeAnthropic({
    latencyMs: 1_500,
    defaultReply: { text: "Drained fine.", usage: { input_tokens: 7, output_tokens: 3 } },
  });
  mesh = await launchMesh({
    env: {
      GATEWAY_API_KEYS: `${KEY}=drain`,
      LEDGER_DATA_DIR: dataDir,
      ANTHROPIC_API_KEY: "upstream",
      ANTHROPIC_BASE_URL: fake.url,
      SHUTDOWN_DEADLINE_MS: "8000",
    },
  });
});

afterAll(async () => {
  await mesh?.stop();
  await fake?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("SIGTERM on the gateway", () => {
  it("finishes the unary and streamed requests in flight, writes their rows, exits 0", async () => {
    const send = (stream: boolean) =>
      fetch(`${mesh.gatewayUrl}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": KEY, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-haiku-3",
          max_tokens: 50,
          stream,
          messages: [{ role: "user", content: `take your time ${stream}` }],
        }),
      }).then(async (res) => ({ status: res.status, body: await res.text() }));
    const unary = send(false);
    const streamed = send(true);
    await eventually(async () => (fake.requests.length === 2 ? true : undefined), 10_000);

    const gateway = mesh.processes.gateway;
    const exited = new Promise<number | null>((resolve) => gateway.once("exit", resolve));
    const signalledAt = Date.now();
    gateway.kill("SIGTERM");

    const [plain, sse] = await Promise.all([unary, streamed]);
    const code = await exited;
    const refused = await fetch(`${mesh.gatewayUrl}/health`).then(
      () => false,
      () => true,
    );

    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body).content).toEqual([{ type: "text", text: "Drained fine." }]);
    expect(sse.status).toBe(200);
    expect(sse.body).toContain('"text":"Drained fine."');
    expect(sse.body.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(8_000);
    expect(refused).toBe(true);

    // Both usage rows reached the ledger before the gateway exited.
    const ledger = createGrpcClient(
      CostLedgerService,
      `127.0.0.1:${mesh.ports["cost-ledger"].grpc}`,
    );
    const spend = await ledger.getSpend({ tenant: "drain" });
    ledger.close();
    expect(spend.requests).toBe(2n);
    expect(spend.outputTokens).toBe(6n);
  });
});
