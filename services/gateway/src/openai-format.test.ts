import { create } from "@bufbuild/protobuf";
import {
  ChatEventSchema,
  Role,
  StopReason,
  type ChatEvent,
} from "@mesh/contracts/common/v1/chat_pb";
import { RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import {
  createChunkWriter,
  finishReason,
  openAiUsage,
  parseChatCompletionRequest,
  toChatCompletion,
  toChatParams,
} from "./openai-format.js";

const params = (body: Record<string, unknown>) =>
  toChatParams(parseChatCompletionRequest(body), {});

function refusal(body: Record<string, unknown>): string {
  try {
    parseChatCompletionRequest(body);
  } catch (err) {
    if (err instanceof RpcError) return err.message;
  }
  return "accepted";
}

describe("parseChatCompletionRequest", () => {
  const base = { model: "claude-sonnet-4", messages: [{ role: "user", content: "hi" }] };

  it("accepts the nulls and zeros the OpenAI SDKs send", () => {
    const req = parseChatCompletionRequest({
      ...base,
      temperature: null,
      stop: null,
      seed: null,
      logprobs: false,
      frequency_penalty: 0,
      presence_penalty: 0,
      logit_bias: {},
      n: 1,
    });

    expect(req.model).toBe("claude-sonnet-4");
  });

  it("refuses what the mesh cannot honour instead of ignoring it", () => {
    expect(refusal({ ...base, n: 2 })).toBe("n: only n = 1 is supported");
    expect(refusal({ ...base, logprobs: true })).toContain("logprobs is not supported");
    expect(refusal({ ...base, presence_penalty: 0.5 })).toContain("presence_penalty");
    expect(refusal({ ...base, logit_bias: { "42": 1 } })).toContain("logit_bias");
    expect(refusal({ ...base, temperature: 2.5 })).toContain("temperature");
    expect(refusal({ model: "m", messages: [{ role: "function", content: "x" }] }))
      .toContain("messages.0.role");
  });
});

describe("toChatParams", () => {
  it("maps system and developer messages to the system prompt, in order", () => {
    const p = params({
      model: "auto",
      messages: [
        { role: "system", content: "be brief" },
        { role: "developer", content: [{ type: "text", text: "use French" }] },
        { role: "user", content: "hi" },
      ],
    });

    expect(p.model).toBe("");
    expect(p.system.map((b) => b.text)).toEqual(["be brief", "use French"]);
    expect(p.messages).toHaveLength(1);
  });

  it("turns tool calls into tool_use and merges tool results into one user turn", () => {
    const p = params({
      model: "m",
      messages: [
        { role: "user", content: "weather in Paris and Oslo?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "c1", type: "function", function: { name: "w", arguments: '{"city":"Paris"}' } },
            { id: "c2", type: "function", function: { name: "w", arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: "tool", tool_call_id: "c1", content: "18C" },
        { role: "tool", tool_call_id: "c2", content: [{ type: "text", text: "4C" }] },
        { role: "user", content: "which is warmer?" },
      ],
    });

    expect(p.messages.map((m) => m.role)).toEqual([Role.USER, Role.ASSISTANT, Role.USER]);
    expect(p.messages[1]?.content.map((b) => b.block)).toEqual([
      expect.objectContaining({ case: "toolUse", value: expect.objectContaining({
        id: "c1", name: "w", inputJson: '{"city":"Paris"}' }) }),
      expect.objectContaining({ case: "toolUse", value: expect.objectContaining({ id: "c2" }) }),
    ]);
    expect(p.messages[2]?.content.map((b) => b.block.case))
      .toEqual(["toolResult", "toolResult", "text"]);
  });

  it("refuses tool arguments that are not a JSON object", () => {
    const call = (args: string) => () =>
      params({
        model: "m",
        messages: [
          { role: "user", content: "x" },
          { role: "assistant", tool_calls: [
            { id: "c", type: "function", function: { name: "f", arguments: args } },
          ] },
        ],
      });

    expect(call("[1]"))
      .toThrow("messages.1.tool_calls.0.function.arguments: must be a JSON object");
    expect(call("{oops")).toThrow("must be JSON text");
  });

  it("maps sampling, stop, seed, user, tools, tool choice and response format", () => {
    const p = params({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      max_completion_tokens: 99,
      max_tokens: 5,
      temperature: 0,
      top_p: 0.5,
      stop: "END",
      seed: 7,
      user: "u-1",
      tools: [{ type: "function", function: { name: "f" } }],
      tool_choice: { type: "function", function: { name: "f" } },
      parallel_tool_calls: false,
      response_format: { type: "json_schema", json_schema: { name: "s", schema: {} } },
    });

    expect(p.maxTokens).toBe(99);
    expect(p.temperature).toBe(0);
    expect(p.topP).toBe(0.5);
    expect(p.stopSequences).toEqual(["END"]);
    expect(p.seed).toBe(7n);
    expect(p.metadata).toEqual({ user_id: "u-1" });
    expect(p.tools[0]).toMatchObject({
      name: "f",
      inputSchemaJson: '{"type":"object","properties":{}}',
    });
    expect(JSON.parse(p.toolChoiceJson)).toEqual({
      type: "tool",
      name: "f",
      disable_parallel_tool_use: true,
    });
    expect(JSON.parse(p.responseFormatJson)).toMatchObject({ type: "json_schema" });
  });

  it("maps tool_choice words to the mesh's choices and leaves text format out", () => {
    const choice = (tool_choice: string) =>
      params({ model: "m", messages: [{ role: "user", content: "x" }], tool_choice })
        .toolChoiceJson;

    expect(choice("auto")).toBe('{"type":"auto"}');
    expect(choice("required")).toBe('{"type":"any"}');
    expect(choice("none")).toBe('{"type":"none"}');
    expect(params({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      response_format: { type: "text" },
    }).responseFormatJson).toBe("");
  });

  it("reads an inline image from a data URL", () => {
    const p = params({
      model: "m",
      messages: [{ role: "user", content: [
        { type: "text", text: "what is this?" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AQID" } },
      ] }],
    });

    const block = p.messages[0]?.content[1]?.block;
    expect(block).toMatchObject({ case: "image", value: { mediaType: "image/png" } });
    const source = block?.case === "image" ? block.value.source : undefined;
    expect(source?.case).toBe("data");
    expect([...(source?.value as Uint8Array)]).toEqual([1, 2, 3]);
  });
});

describe("responses", () => {
  const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 3, cacheWriteTokens: 2 };

  it("counts cached input in prompt_tokens, as OpenAI does", () => {
    expect(openAiUsage(usage as never)).toMatchObject({
      prompt_tokens: 15,
      completion_tokens: 5,
      total_tokens: 20,
      prompt_tokens_details: { cached_tokens: 3 },
    });
  });

  it("maps stop reasons to finish reasons", () => {
    expect(finishReason(StopReason.END_TURN)).toBe("stop");
    expect(finishReason(StopReason.STOP_SEQUENCE)).toBe("stop");
    expect(finishReason(StopReason.MAX_TOKENS)).toBe("length");
    expect(finishReason(StopReason.TOOL_USE)).toBe("tool_calls");
    expect(finishReason(StopReason.GUARDRAIL)).toBe("content_filter");
  });

  it("reports a withheld answer as a refusal with no content", () => {
    const result = { requestId: "req_1", content: [], stopReason: StopReason.GUARDRAIL };
    const completion = toChatCompletion({ ...result, guardrails: [] } as never, 1);

    expect(completion.id).toBe("chatcmpl-1");
    expect(completion.choices[0]?.message.content).toBeNull();
    expect(completion.choices[0]?.message.refusal).toContain("withheld");
    expect(completion.choices[0]?.finish_reason).toBe("content_filter");
  });
});

describe("createChunkWriter", () => {
  const event = (value: Parameters<typeof create<typeof ChatEventSchema>>[1]): ChatEvent =>
    create(ChatEventSchema, value);
  const events = [
    event({ event: { case: "start", value: { model: "claude-sonnet-4" } } }),
    event({ event: { case: "textDelta", value: { index: 0, text: "Hel" } } }),
    event({ event: { case: "textDelta", value: { index: 0, text: "lo" } } }),
    event({ event: { case: "toolUse", value: { id: "t1", name: "f", inputJson: '{"a":1}' } } }),
    event({
      event: {
        case: "done",
        value: { stopReason: StopReason.TOOL_USE, usage: { inputTokens: 4, outputTokens: 2 } },
      },
    }),
  ];
  const run = (includeUsage: boolean) => {
    const writer = createChunkWriter({ id: "chatcmpl-x", createdS: 5, includeUsage });
    const text = events.map((e) => writer.map(e)).join("") + writer.end();
    return text.split("\n\n").filter(Boolean).map((f) => f.slice("data: ".length));
  };

  it("writes role, content and tool-call chunks, the finish reason, then [DONE]", () => {
    const frames = run(false);
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f));

    expect(frames.at(-1)).toBe("[DONE]");
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([
      { role: "assistant", content: "", refusal: null },
      { content: "Hel" },
      { content: "lo" },
      {
        tool_calls: [
          { index: 0, id: "t1", type: "function", function: { name: "f", arguments: '{"a":1}' } },
        ],
      },
      {},
    ]);
    expect(chunks.at(-1).choices[0].finish_reason).toBe("tool_calls");
    expect(chunks.every((c) => c.model === "claude-sonnet-4" && c.id === "chatcmpl-x")).toBe(true);
    expect(chunks.some((c) => "usage" in c)).toBe(false);
  });

  it("adds a usage chunk without choices only when asked", () => {
    const chunks = run(true).slice(0, -1).map((f) => JSON.parse(f));

    expect(chunks).toHaveLength(6);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
    });
  });
});
