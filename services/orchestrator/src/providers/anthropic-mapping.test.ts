import type { Message, RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages";
import { Role, StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { describe, expect, it } from "vitest";
import { chatParams } from "../testkit.js";
import {
  AnthropicStreamMapper,
  fromAnthropicMessage,
  fromAnthropicStopReason,
  toAnthropicRequest,
} from "./anthropic-mapping.js";

describe("toAnthropicRequest", () => {
  it("maps system blocks with cache markers, turns, tools, images and sampling", () => {
    const params = chatParams("", {
      system: [{ text: "You are terse.", cacheControl: true }, { text: "Use metric units." }],
      messages: [
        {
          role: Role.USER,
          content: [
            { block: { case: "text", value: { text: "What is in this image?" } } },
            {
              block: {
                case: "image",
                value: {
                  mediaType: "image/png",
                  source: { case: "data", value: Buffer.from("PNG") },
                },
              },
            },
            {
              block: {
                case: "image",
                value: { mediaType: "", source: { case: "url", value: "https://x.test/a.jpg" } },
              },
            },
          ],
        },
        {
          role: Role.ASSISTANT,
          content: [
            {
              block: {
                case: "toolUse",
                value: { id: "toolu_1", name: "lookup", inputJson: '{"q":"cat"}' },
              },
            },
          ],
        },
        {
          role: Role.USER,
          content: [
            {
              block: {
                case: "toolResult",
                value: { toolUseId: "toolu_1", content: [{ text: "a cat" }], isError: true },
              },
            },
          ],
        },
      ],
      tools: [
        { name: "lookup", description: "Looks up a word", inputSchemaJson: '{"type":"object"}' },
        { name: "noop", inputSchemaJson: '{"type":"object","properties":{}}' },
      ],
      stopSequences: ["\n\nHuman:"],
      temperature: 0.2,
      topP: 0.9,
      topK: 40,
      maxTokens: 300,
    });

    const body = toAnthropicRequest(params, "claude-sonnet-4-20250514", 300);

    expect(body).toEqual({
      model: "claude-sonnet-4-20250514",
      max_tokens: 300,
      system: [
        { type: "text", text: "You are terse.", cache_control: { type: "ephemeral" } },
        { type: "text", text: "Use metric units." },
      ],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in this image?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "UE5H" } },
            { type: "image", source: { type: "url", url: "https://x.test/a.jpg" } },
          ],
        },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "toolu_1", name: "lookup", input: { q: "cat" } }],
        },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "toolu_1",
              content: [{ type: "text", text: "a cat" }],
              is_error: true,
            },
          ],
        },
      ],
      tools: [
        { name: "lookup", description: "Looks up a word", input_schema: { type: "object" } },
        { name: "noop", input_schema: { type: "object", properties: {} } },
      ],
      stop_sequences: ["\n\nHuman:"],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
    });
  });

  it("leaves out what the caller did not set", () => {
    const body = toAnthropicRequest(chatParams("hi"), "m", 10);

    expect(body).toEqual({
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    });
  });
});

describe("fromAnthropicMessage", () => {
  it("maps a tool call to TOOL_USE and keeps cache tokens in their own fields", () => {
    const message = {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-20250514",
      content: [
        { type: "text", text: "Let me look.", citations: null },
        { type: "tool_use", id: "toolu_9", name: "lookup", input: { q: "dog" } },
      ],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: {
        input_tokens: 812,
        output_tokens: 57,
        cache_read_input_tokens: 2048,
        cache_creation_input_tokens: 1024,
        output_tokens_details: null,
      },
    } as unknown as Message;

    const result = fromAnthropicMessage(message);

    expect(result.stopReason).toBe(StopReason.TOOL_USE);
    expect(result.stopSequence).toBe("");
    expect(result.upstreamModel).toBe("claude-sonnet-4-20250514");
    expect(result.usage).toEqual({
      inputTokens: 812,
      outputTokens: 57,
      cacheReadTokens: 2048,
      cacheWriteTokens: 1024,
      reasoningTokens: 0,
    });
    expect(result.content.map((b) => [b.block.case, b.block.value])).toMatchObject([
      ["text", { text: "Let me look." }],
      ["toolUse", { id: "toolu_9", name: "lookup", inputJson: '{"q":"dog"}' }],
    ]);
  });

  it("maps every stop reason", () => {
    expect(
      ["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn",
        "model_context_window_exceeded", null, "new_thing"].map(fromAnthropicStopReason),
    ).toEqual([
      StopReason.END_TURN,
      StopReason.MAX_TOKENS,
      StopReason.STOP_SEQUENCE,
      StopReason.TOOL_USE,
      StopReason.REFUSAL,
      StopReason.END_TURN,
      StopReason.MAX_TOKENS,
      StopReason.UNSPECIFIED,
      StopReason.UNSPECIFIED,
    ]);
  });
});

describe("AnthropicStreamMapper", () => {
  const events = [
    {
      type: "message_start",
      message: {
        model: "claude-haiku",
        usage: { input_tokens: 25, output_tokens: 1, cache_read_input_tokens: 7,
          cache_creation_input_tokens: 3 },
      },
    },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } },
    { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "lo" } },
    { type: "content_block_stop", index: 0 },
    {
      type: "content_block_start",
      index: 1,
      content_block: { type: "tool_use", id: "toolu_2", name: "calc", input: {} },
    },
    {
      type: "content_block_delta",
      index: 1,
      delta: { type: "input_json_delta", partial_json: '{"a"' },
    },
    {
      type: "content_block_delta",
      index: 1,
      delta: { type: "input_json_delta", partial_json: ":1}" },
    },
    { type: "content_block_stop", index: 1 },
    { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { output_tokens: 10 } },
    { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { output_tokens: 14 } },
    { type: "message_stop" },
  ] as unknown as RawMessageStreamEvent[];

  it("takes input from message_start and output from the last message_delta", () => {
    const mapper = new AnthropicStreamMapper();

    const out = events.flatMap((e) => mapper.map(e));

    expect(out).toEqual([
      {
        type: "start",
        upstreamModel: "claude-haiku",
        usage: { inputTokens: 25, outputTokens: 0, cacheReadTokens: 7, cacheWriteTokens: 3,
          reasoningTokens: 0 },
      },
      { type: "text_delta", index: 0, text: "Hel" },
      { type: "text_delta", index: 0, text: "lo" },
      { type: "tool_use", index: 1, id: "toolu_2", name: "calc", inputJson: '{"a":1}' },
      { type: "usage", usage: { inputTokens: 25, outputTokens: 10, cacheReadTokens: 7,
        cacheWriteTokens: 3, reasoningTokens: 0 } },
      { type: "usage", usage: { inputTokens: 25, outputTokens: 14, cacheReadTokens: 7,
        cacheWriteTokens: 3, reasoningTokens: 0 } },
      {
        type: "stop",
        stopReason: StopReason.TOOL_USE,
        stopSequence: "",
        usage: { inputTokens: 25, outputTokens: 14, cacheReadTokens: 7, cacheWriteTokens: 3,
          reasoningTokens: 0 },
      },
    ]);
    expect(() => mapper.finish()).not.toThrow();
  });

  it("says a stream without message_stop was cut", () => {
    const mapper = new AnthropicStreamMapper();
    for (const event of events.slice(0, 4)) mapper.map(event);

    expect(() => mapper.finish()).toThrow("the stream ended before message_stop");
    expect(mapper.usageSoFar().inputTokens).toBe(25);
  });
});

describe("tool choice for Anthropic", () => {
  it("passes Anthropic's shape through and translates OpenAI's", () => {
    const choice = (json: string) =>
      toAnthropicRequest(chatParams("x", { toolChoiceJson: json }), "m", 1).tool_choice;

    expect([
      choice('{"type":"tool","name":"f","disable_parallel_tool_use":true}'),
      choice('"required"'),
      choice('"auto"'),
      choice('{"type":"function","function":{"name":"g"}}'),
    ]).toEqual([
      { type: "tool", name: "f", disable_parallel_tool_use: true },
      { type: "any" },
      { type: "auto" },
      { type: "tool", name: "g" },
    ]);
    expect(() => choice("[1]")).toThrow(/is not a tool choice/);
  });
});
