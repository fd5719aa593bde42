/**
 * Helpers for this service's tests.
 * @private
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ChatParamsSchema, Role, type ChatParams } from "@mesh/contracts/common/v1/chat_pb";
import { createLogger } from "@mesh/logging";
import type { Clock } from "./resilience.js";

/** A logger that writes nothing. */
export const silentLogger = createLogger("orchestrator-test", "silent");

/** ChatParams with one user message, plus any overrides. */
export function chatParams(
  text = "hello",
  overrides: MessageInitShape<typeof ChatParamsSchema> = {},
): ChatParams {
  return create(ChatParamsSchema, {
    messages: [{ role: Role.USER, content: [{ block: { case: "text", value: { text } } }] }],
    ...overrides,
  });
}

/** A clock that records each wait and returns at once. */
export function recordingClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    now: () => Date.now(),
    sleep: async (ms) => {
      waits.push(ms);
    },
  };
}

/**
 * A catalog with the default three models, each with one anthropic deployment at `url`
 * (key from FAKE_ANTHROPIC_KEY) and a standby simulator.
 */
export function fakeCatalogYaml(url: string): string {
  const model = (name: string, tier: string, maxOut: number, prices: string[]) => `
  - name: ${name}
    tier: ${tier}
    context_window: 200000
    max_output_tokens: ${maxOut}
    capabilities: { tools: true, images: true }
    expected_latency_ms: 10
    prices: { input: "${prices[0]}", output: "${prices[1]}", cache_write: "${prices[2]}",
      cache_read: "${prices[3]}" }
    deployments:
      - name: anthropic
        provider: anthropic
        upstream_model: ${name}-upstream
        base_url: ${url}
        api_key_env: FAKE_ANTHROPIC_KEY
      - name: simulator
        provider: simulator
        standby: true`;

  return [
    "version: 1\nmodels:",
    model("claude-opus-4", "top", 32000, ["15", "75", "18.75", "1.50"]),
    model("claude-sonnet-4", "balanced", 64000, ["3", "15", "3.75", "0.30"]),
    model("claude-haiku-3", "fast", 4096, ["0.25", "1.25", "0.30", "0.03"]),
    "\n",
  ].join("");
}

/** A deployment of a test catalog (see catalogJson). */
export interface TestDeployment {
  name: string;
  provider: "anthropic" | "openai" | "openai-compatible" | "simulator";
  url?: string;
  keyEnv?: string;
  upstream?: string;
  weight?: number;
  standby?: boolean;
  timeouts?: { connect_ms?: number; first_token_ms?: number; total_ms?: number };
}

/** A model of a test catalog; prices are [input, output, cache write, cache read]. */
export interface TestModel {
  name: string;
  tier: "top" | "balanced" | "fast";
  contextWindow?: number;
  maxOutputTokens?: number;
  prices: [string, string, string, string];
  deployments: TestDeployment[];
}

/** A catalog as JSON text (which the YAML loader reads too). */
export function catalogJson(models: TestModel[]): string {
  return JSON.stringify({
    version: 1,
    models: models.map((m) => ({
      name: m.name,
      tier: m.tier,
      context_window: m.contextWindow ?? 200_000,
      max_output_tokens: m.maxOutputTokens ?? 4_096,
      capabilities: { tools: true, images: true },
      expected_latency_ms: 10,
      prices: { input: m.prices[0], output: m.prices[1], cache_write: m.prices[2],
        cache_read: m.prices[3] },
      deployments: m.deployments.map((d) => ({
        name: d.name,
        provider: d.provider,
        ...(d.url ? { base_url: d.url } : {}),
        ...(d.keyEnv ? { api_key_env: d.keyEnv } : {}),
        ...(d.upstream ? { upstream_model: d.upstream } : {}),
        ...(d.weight ? { weight: d.weight } : {}),
        ...(d.standby ? { standby: true } : {}),
        ...(d.timeouts ? { timeouts: d.timeouts } : {}),
      })),
    })),
  }, null, 2);
}

/**
 * A server that answers every POST with 200, writes `body` as an event stream, waits for
 * the bytes to leave, then drops the connection: a stream cut off mid-answer.
 */
export async function startCutStream(body: string): Promise<{ url: string; requests(): number;
  close(): Promise<void> }> {
  const { createServer } = await import("node:http");
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests++;
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(body, () => setTimeout(() => res.socket?.destroy(), 10));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
