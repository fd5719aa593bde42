import { Complexity, Role, StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import {
  anthropicStopReason,
  parseMessagesRequest,
  readHintHeaders,
  toChatParams,
} from "./anthropic-format.js";

describe("parseMessagesRequest", () => {
  it("names every invalid field in one error", () => {
    let caught: unknown;
    try {
      parseMessagesRequest({ model: "claude-sonnet-4", messages: [], temperature: "hot" });
    } catch (err) {
      caught = err;
    }

    expect(caught).toBeInstanceOf(RpcError);
    const message = (caught as RpcError).message;
    expect(message).toContain("max_tokens");
    expect(message).toContain("messages: at least one message is required");
    expect(message).toContain("temperature");
  });

  it("refuses a body that is not an object", () => {
    expect(() => parseMessagesRequest([1, 2])).toThrow("request body must be a JSON object");
  });
});

describe("toChatParams", () => {
  it("maps system blocks, tool turns and hints", () => {
    const req = parseMessagesRequest({
      model: "auto",
      max_tokens: 64,
      system: [{ type: "text", text: "be brief", cache_control: { type: "ephemeral" } }],
      messages: [
        { role: "user", content: "weather in Paris?" },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "tu_1", name: "weather", input: { city: "Paris" } }],
        },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "tu_1", content: "18C" }],
        },
      ],
      mesh: { requires_reasoning: true },
    });

    const params = toChatParams(
      req,
      readHintHeaders((n) => (n === "x-mesh-complexity" ? "HIGH" : undefined)),
    );

    expect(params.model).toBe("");
    expect(params.system[0]).toMatchObject({ text: "be brief", cacheControl: true });
    expect(params.hints?.complexity).toBe(Complexity.HIGH);
    expect(params.hints?.requiresReasoning).toBe(true);
    expect(params.messages.map((m) => m.role)).toEqual([Role.USER, Role.ASSISTANT, Role.USER]);
    expect(params.messages[1]?.content[0]?.block).toMatchObject({
      case: "toolUse",
      value: { id: "tu_1", name: "weather", inputJson: '{"city":"Paris"}' },
    });
    expect(params.messages[2]?.content[0]?.block).toMatchObject({
      case: "toolResult",
      value: { toolUseId: "tu_1", content: [{ text: "18C" }] },
    });
  });

  it("maps stop reasons exactly, a guardrail stop reading as a refusal", () => {
    expect(anthropicStopReason(StopReason.TOOL_USE)).toBe("tool_use");
    expect(anthropicStopReason(StopReason.END_TURN)).toBe("end_turn");
    expect(anthropicStopReason(StopReason.GUARDRAIL)).toBe("refusal");
    expect(anthropicStopReason(StopReason.UNSPECIFIED)).toBeNull();
  });

  it("refuses hint headers outside what they take, naming the header", () => {
    const only = (name: string, value: string) => (n: string) => (n === name ? value : undefined);
    const refusal = (name: string, value: string) => {
      try {
        readHintHeaders(only(name, value));
      } catch (err) {
        return (err as Error).message;
      }
      return "taken";
    };

    expect(refusal("x-mesh-complexity", "extreme")).toBe(
      'x-mesh-complexity: "extreme" is not low, medium or high',
    );
    expect(refusal("x-mesh-complexity", "constructor")).toBe(
      'x-mesh-complexity: "constructor" is not low, medium or high',
    );
    expect(refusal("x-mesh-latency-sensitive", "yes")).toBe(
      'x-mesh-latency-sensitive: "yes" is not true, false, 1 or 0',
    );
    expect(readHintHeaders(only("x-mesh-requires-reasoning", "0"))).toEqual({
      complexity: undefined,
      requiresReasoning: false,
      latencySensitive: undefined,
    });
  });

  it("drops empty system prompts rather than sending the model an empty block", () => {
    const base = { model: "m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] };
    const asText = toChatParams(parseMessagesRequest({ ...base, system: "" }), {});
    const asBlocks = toChatParams(parseMessagesRequest({
      ...base,
      system: [{ type: "text", text: "" }, { type: "text", text: "be brief" }],
    }), {});

    expect(asText.system).toEqual([]);
    expect(asBlocks.system.map((b) => b.text)).toEqual(["be brief"]);
  });
});
