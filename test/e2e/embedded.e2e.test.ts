import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GatewayService } from "@mesh/contracts/gateway/v1/gateway_pb";
import { CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import { moneyToNanos } from "@mesh/money";
import { createGrpcClient } from "@mesh/rpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import { eventually, sampleValue } from "../support/real-services.js";

const KEY = "embedded-key";
let mesh: RunningMesh;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "mesh-embedded-"));
  const env = {
    GATEWAY_API_KEYS: `${KEY}=solo`,
    LEDGER_DATA_DIR: dataDir,
    SIMULATOR_LATENCY_MS: "0",
  };
  mesh = await launchMesh({ env });
  // The embedded defaults are what runs without DATABASE_URL and REDIS_URL.
  expect(process.env.DATABASE_URL ?? "").toBe("");
  expect(process.env.REDIS_URL ?? "").toBe("");
});

afterAll(async () => {
  await mesh?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("the mesh on embedded defaults (PGlite, in-process stores, simulator)", () => {
  it("answers unary and streamed requests and bills them in the embedded ledger", async () => {
    const sdk = new Anthropic({ apiKey: KEY, baseURL: mesh.gatewayUrl, maxRetries: 0 });
    const body = {
      model: "claude-haiku-3",
      max_tokens: 120,
      messages: [{ role: "user" as const, content: "Name three primary colours." }],
    };

    const unary = await sdk.messages.create(body);
    const streamed = await sdk.messages.stream(body).finalMessage();
    const grpc = createGrpcClient(GatewayService, mesh.gatewayGrpcAddress);
    const { result } = await grpc.chat(
      {
        params: {
          model: "claude-haiku-3",
          maxTokens: 120,
          messages: [
            {
              role: 1,
              content: [
                { block: { case: "text", value: { text: "Name three primary colours." } } },
              ],
            },
          ],
        },
      },
      { headers: { "x-api-key": KEY } },
    );
    grpc.close();
    const connect = createClient(
      GatewayService,
      createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1" }),
    );
    const viaConnect = await connect.chat(
      {
        params: {
          model: "claude-haiku-3",
          maxTokens: 120,
          messages: [
            {
              role: 1,
              content: [
                { block: { case: "text", value: { text: "Name three primary colours." } } },
              ],
            },
          ],
        },
      },
      { headers: { "x-api-key": KEY } },
    );

    const text = unary.content[0]?.type === "text" ? unary.content[0].text : "";
    expect(text.startsWith("[simulator]")).toBe(true);
    expect(streamed.content).toEqual(unary.content);
    expect(streamed.usage.output_tokens).toBe(unary.usage.output_tokens);
    expect(result?.provider).toBe("simulator");
    expect(result?.usage?.outputTokens).toBe(unary.usage.output_tokens);
    expect(viaConnect.result?.content).toEqual(result?.content);

    // Haiku 3 bills 250 nano-dollars per input token and 1250 per output token.
    const oneCost = BigInt(unary.usage.input_tokens * 250 + unary.usage.output_tokens * 1_250);
    expect(moneyToNanos(result?.cost)).toBe(oneCost);

    const ledger = createGrpcClient(
      CostLedgerService,
      `127.0.0.1:${mesh.ports["cost-ledger"].grpc}`,
    );
    const spend = await eventually(async () => {
      const s = await ledger.getSpend({ tenant: "solo" });
      return s.requests === 4n ? s : undefined;
    });
    ledger.close();
    expect(moneyToNanos(spend.total)).toBe(4n * oneCost);
    expect(spend.inputTokens).toBe(BigInt(4 * unary.usage.input_tokens));
    expect(spend.outputTokens).toBe(BigInt(4 * unary.usage.output_tokens));

    // Observations reach the metrics service in batches, a few milliseconds after the answer.
    const metrics = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${mesh.ports.metrics.http}/metrics`);
      const text = await res.text();
      const counted = ["anthropic-messages", "grpc", "connect"]
        .map((endpoint) => {
          const labels = { model: "claude-haiku-3", endpoint, status: "ok" };
          return sampleValue(text, "ai_requests_total", labels);
        })
        .reduce((a, b) => a + b, 0);
      return counted >= 4 ? text : undefined;
    });
    expect(
      sampleValue(metrics, "ai_requests_total", {
        model: "claude-haiku-3",
        endpoint: "anthropic-messages",
        status: "ok",
      }),
    ).toBe(2);
    expect(
      sampleValue(metrics, "ai_requests_total", {
        model: "claude-haiku-3",
        endpoint: "grpc",
        status: "ok",
      }),
    ).toBe(1);
    expect(
      sampleValue(metrics, "ai_requests_total", {
        model: "claude-haiku-3",
        endpoint: "connect",
        status: "ok",
      }),
    ).toBe(1);
  });
});
