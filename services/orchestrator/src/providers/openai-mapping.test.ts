import { Role, StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { describe, expect, it } from "vitest";
import { chatParams } from "../testkit.js";
import {
  fromOpenAICompletion,
  fromOpenAIUsage,
  OpenAIStreamMapper,
  toOpenAIRequest,
} from "./openai-mapping.js";
import type { ProviderEvent } from "./types.js";

/** A conversation with every block kind: system blocks, a tool round trip, an image. */
function richParams() {
  return chatParams("unused", {
    system: [{ text: "You are terse.", cacheControl: true }, { text: "Answer in French." }],
    messages: [
      { role: Role.USER, content: [
        { block: { case: "text", value: { text: "Weather in Oslo?" } } },
        { block: { case: "image", value: { mediaType: "image/png",
          source: { case: "data", value: new Uint8Array([1, 2, 3]) } } } },
      ] },
      { role: Role.ASSISTANT, content: [
        { block: { case: "text", value: { text: "Checking." } } },
        { block: { case: "toolUse", value: { id: "call_1", name: "weather",
          inputJson: '{"city":"Oslo"}' } } },
      ] },
      { role: Role.USER, content: [
        { block: { case: "toolResult", value: { toolUseId: "call_1",
          content: [{ text: "-3C" }, { text: "snow" }] } } },
        { block: { case: "text", value: { text: "And tomorrow?" } } },
      ] },
      { role: Role.ASSISTANT, content: [
        { block: { case: "toolUse", value: { id: "call_2", name: "weather", inputJson: "" } } },
      ] },
      { role: Role.USER, content: [
        { block: { case: "toolResult", value: { toolUseId: "call_2", isError: true,
          content: [{ text: "service down" }] } } },
      ] },
    ],
    tools: [{ name: "weather", description: "Current weather",
      inputSchemaJson: '{"type":"object","properties":{"city":{"type":"string"}}}' }],
    toolChoiceJson: '{"type":"tool","name":"weather","disable_parallel_tool_use":true}',
    stopSequences: ["\n\nEND"],
    temperature: 0.5,
    topP: 0.9,
    topK: 40,
    seed: 7n,
  });
}

describe("toOpenAIRequest", () => {
  it("maps system blocks, turns, tool calls and results, images and stops for OpenAI", () => {
    const body = toOpenAIRequest(richParams(), "gpt-4.1", 256, "openai");

    expect(body).toEqual({
      model: "gpt-4.1",
      max_completion_tokens: 256,
      messages: [
        { role: "system", content: [{ type: "text", text: "You are terse." },
          { type: "text", text: "Answer in French." }] },
        { role: "user", content: [
          { type: "text", text: "Weather in Oslo?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,AQID" } },
        ] },
        { role: "assistant", content: "Checking.", tool_calls: [
          { id: "call_1", type: "function",
            function: { name: "weather", arguments: '{"city":"Oslo"}' } },
        ] },
        { role: "tool", tool_call_id: "call_1", content: "-3C\nsnow" },
        { role: "user", content: "And tomorrow?" },
        { role: "assistant", content: null, tool_calls: [
          { id: "call_2", type: "function", function: { name: "weather", arguments: "{}" } },
        ] },
        { role: "tool", tool_call_id: "call_2", content: "Error: service down" },
      ],
      tools: [{ type: "function", function: { name: "weather", description: "Current weather",
        parameters: { type: "object", properties: { city: { type: "string" } } } } }],
      tool_choice: { type: "function", function: { name: "weather" } },
      parallel_tool_calls: false,
      stop: ["\n\nEND"],
      temperature: 0.5,
      top_p: 0.9,
      seed: 7,
    });
  });

  it("sends max_tokens, top_k and string system text to self-hosted servers", () => {
    const body = toOpenAIRequest(richParams(), "llama3", 256, "openai-compatible");

    expect(body.max_tokens).toBe(256);
    expect(body.max_completion_tokens).toBeUndefined();
    expect(body.top_k).toBe(40);
    expect(body.messages[0]).toEqual({ role: "system",
      content: "You are terse.\n\nAnswer in French." });
  });

  it("maps tool choices given either way", () => {
    const choice = (json: string) =>
      toOpenAIRequest(chatParams("x", { toolChoiceJson: json }), "m", 1, "openai").tool_choice;

    expect([
      choice('"auto"'),
      choice('"any"'),
      choice('{"type":"any"}'),
      choice('{"type":"none"}'),
      choice('"required"'),
      choice('{"type":"function","function":{"name":"f"}}'),
    ]).toEqual(["auto", "required", "required", "none", "required",
      { type: "function", function: { name: "f" } }]);
    expect(() => choice('{"type":"sometimes"}')).toThrow(/is not a tool choice/);
  });

  it("wraps a bare JSON Schema response format and passes OpenAI's on", () => {
    const format = (json: string) =>
      toOpenAIRequest(chatParams("x", { responseFormatJson: json }), "m", 1, "openai")
        .response_format;

    expect(format('{"type":"json_object"}')).toEqual({ type: "json_object" });
    expect(format('{"properties":{"a":{"type":"string"}}}')).toEqual({
      type: "json_schema",
      json_schema: { name: "response", schema: { properties: { a: { type: "string" } } } },
    });
  });
});

describe("fromOpenAIUsage", () => {
  it("bills cached prompt tokens as cache reads only and keeps reasoning inside output", () => {
    const usage = fromOpenAIUsage({
      prompt_tokens: 1_000,
      completion_tokens: 300,
      prompt_tokens_details: { cached_tokens: 600 },
      completion_tokens_details: { reasoning_tokens: 200 },
    });

    expect(usage).toEqual({ inputTokens: 400, outputTokens: 300, cacheReadTokens: 600,
      cacheWriteTokens: 0, reasoningTokens: 200 });
  });

  it("reads servers that send no details", () => {
    expect(fromOpenAIUsage({ prompt_tokens: 12, completion_tokens: 3 })).toEqual({
      inputTokens: 12, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0,
      reasoningTokens: 0 });
  });
});

describe("fromOpenAICompletion", () => {
  const request = { upstreamModel: "m", stopSequences: ["###", "END"] };
  const answer = (choice: object) =>
    fromOpenAICompletion({ model: "m-1", choices: [choice as never], usage: null }, request);

  it("maps each finish reason exactly", () => {
    const toolCalls = [{ id: "c1", function: { name: "f", arguments: '{"a":1}' } }];

    expect([
      answer({ finish_reason: "stop", message: { content: "hi" } }).stopReason,
      answer({ finish_reason: "length", message: { content: "hi" } }).stopReason,
      answer({ finish_reason: "tool_calls", message: { content: null, tool_calls: toolCalls } })
        .stopReason,
      // Some self-hosted servers say "stop" after a tool call; it is still a tool call.
      answer({ finish_reason: "stop", message: { content: null, tool_calls: toolCalls } })
        .stopReason,
      answer({ finish_reason: "content_filter", message: { content: "" } }).stopReason,
      answer({ finish_reason: "stop", message: { content: null, refusal: "I can't." } })
        .stopReason,
      answer({ finish_reason: "stop", stop_reason: "END", message: { content: "x" } }).stopReason,
      answer({ finish_reason: null, message: { content: "x" } }).stopReason,
    ]).toEqual([
      StopReason.END_TURN,
      StopReason.MAX_TOKENS,
      StopReason.TOOL_USE,
      StopReason.TOOL_USE,
      StopReason.REFUSAL,
      StopReason.REFUSAL,
      StopReason.STOP_SEQUENCE,
      StopReason.UNSPECIFIED,
    ]);
    expect(answer({ finish_reason: "stop", stop_reason: "END", message: { content: "x" } })
      .stopSequence).toBe("END");
  });

  it("puts text first, then each tool call as a tool_use block", () => {
    const result = answer({ finish_reason: "tool_calls", message: { content: "Let me see.",
      tool_calls: [{ id: "c1", function: { name: "f", arguments: '{"a":1}' } },
        { function: { name: "g", arguments: "" } }] } });

    expect(result.content.map((b) => b.block)).toEqual([
      { case: "text", value: expect.objectContaining({ text: "Let me see." }) },
      { case: "toolUse", value: expect.objectContaining({ id: "c1", name: "f",
        inputJson: '{"a":1}' }) },
      { case: "toolUse", value: expect.objectContaining({ id: "call_1", name: "g",
        inputJson: "{}" }) },
    ]);
    expect(result.upstreamModel).toBe("m-1");
  });
});

describe("OpenAIStreamMapper", () => {
  const base = { model: "gpt-x" };
  const chunk = (delta: object, finish: string | null = null) => ({
    ...base, choices: [{ index: 0, delta, finish_reason: finish }] });

  it("indexes blocks in order, emits tool calls whole at the finish, usage from the end", () => {
    const mapper = new OpenAIStreamMapper({ upstreamModel: "m", stopSequences: [],
      promptTokens: 99 });
    const chunks = [
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Let " }),
      chunk({ content: "me." }),
      chunk({ tool_calls: [{ index: 0, id: "c1", function: { name: "f", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }),
      chunk({}, "tool_calls"),
      { ...base, choices: [], usage: { prompt_tokens: 50, completion_tokens: 20,
        prompt_tokens_details: { cached_tokens: 10 },
        completion_tokens_details: { reasoning_tokens: 5 } } },
    ];

    const events: ProviderEvent[] = chunks.flatMap((c) => mapper.map(c));
    events.push(mapper.finish(true));

    const usage = { inputTokens: 40, outputTokens: 20, cacheReadTokens: 10, cacheWriteTokens: 0,
      reasoningTokens: 5 };
    expect(events).toEqual([
      { type: "start", upstreamModel: "gpt-x", usage: { inputTokens: 0, outputTokens: 0,
        cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
      { type: "text_delta", index: 0, text: "Let " },
      { type: "text_delta", index: 0, text: "me." },
      { type: "tool_use", index: 1, id: "c1", name: "f", inputJson: '{"a":1}' },
      { type: "usage", usage },
      { type: "stop", stopReason: StopReason.TOOL_USE, stopSequence: "", usage },
    ]);
  });

  it("says a stream with no finish_reason, or no usage and no [DONE], was cut", () => {
    const noFinish = new OpenAIStreamMapper({ upstreamModel: "m", stopSequences: [],
      promptTokens: 1 });
    noFinish.map(chunk({ content: "partial" }));
    const noUsage = new OpenAIStreamMapper({ upstreamModel: "m", stopSequences: [],
      promptTokens: 1 });
    noUsage.map(chunk({ content: "all" }, "stop"));

    expect(() => noFinish.finish(true)).toThrow("the stream ended before its finish_reason");
    expect(() => noUsage.finish(false)).toThrow("the stream ended before its usage and [DONE]");
  });

  it("counts usage itself when a server ends cleanly without sending any", () => {
    const mapper = new OpenAIStreamMapper({ upstreamModel: "m", stopSequences: [],
      promptTokens: 31 });
    mapper.map(chunk({ content: "Grüße aus Oslo" }, "stop"));

    // 15 UTF-8 bytes → 4 tokens by the mesh's rule; input is the prompt estimate.
    expect(mapper.finish(true).usage).toEqual({ inputTokens: 31, outputTokens: 4,
      cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
    expect(mapper.usageReported()).toBe(false);
  });

  it("throws the error a server sends inside the stream", () => {
    const mapper = new OpenAIStreamMapper({ upstreamModel: "m", stopSequences: [],
      promptTokens: 1 });

    expect(() => mapper.map({ error: { message: "engine overloaded", type: "server_error",
      code: 503 } })).toThrow(expect.objectContaining({ kind: "overloaded" }));
  });
});
