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
