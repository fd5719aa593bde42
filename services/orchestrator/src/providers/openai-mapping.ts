import { create } from "@bufbuild/protobuf";
import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionContentPart,
  ChatCompletionContentPartText,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from "openai/resources/chat/completions";
import {
  ContentBlockSchema,
  Role,
  StopReason,
  type ChatParams,
  type ContentBlock,
  type TextBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import { emptyUsage, ProviderError, type ProviderEvent, type TokenUsage } from "./types.js";

/** Which dialect of the Chat Completions API a deployment speaks. */
export type OpenAIFlavor = "openai" | "openai-compatible";

/**
 * The Chat Completions body. `top_k` is not OpenAI's but vLLM, llama.cpp and TGI take it,
 * so it is sent to self-hosted servers only.
 */
export type OpenAIRequestBody = ChatCompletionCreateParamsNonStreaming & { top_k?: number };

/**
 * The Chat Completions request body for the mesh's params (without `stream`):
 *
 * - system blocks → one `system` message (a string for one block, else text parts; joined
 *   with blank lines for self-hosted servers, whose chat templates often want a string).
 *   Cache-control markers are dropped: OpenAI caches prompt prefixes by itself.
 * - a user message's tool_result blocks → one `tool` message each, first (they must follow
 *   the assistant's tool calls); its text and images → a `user` message after them.
 *   A tool result marked is_error is prefixed "Error: ", which the API has no field for.
 * - an assistant message's tool_use blocks → `tool_calls`, its text → `content`.
 * - images → image_url parts (the URL, or a data: URL of the bytes).
 * - max_tokens → max_completion_tokens for OpenAI (its reasoning models accept no other),
 *   max_tokens for self-hosted servers (older ones know no other).
 */
export function toOpenAIRequest(
  params: ChatParams,
  upstreamModel: string,
  maxTokens: number,
  flavor: OpenAIFlavor,
): OpenAIRequestBody {
  const flatten = flavor === "openai-compatible";
  const messages: ChatCompletionMessageParam[] = [];
  if (params.system.length > 0) {
    messages.push({ role: "system", content: textContent(params.system, flatten, "\n\n") });
  }
  for (const message of params.messages) {
    if (message.role === Role.ASSISTANT) messages.push(assistantMessage(message.content, flatten));
    else messages.push(...userMessages(message.content, flatten));
  }

  const body: OpenAIRequestBody = { model: upstreamModel, messages };
  if (flavor === "openai") body.max_completion_tokens = maxTokens;
  else body.max_tokens = maxTokens;

  if (params.tools.length > 0) {
    body.tools = params.tools.map((t): ChatCompletionTool => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description !== "" ? { description: t.description } : {}),
        parameters: JSON.parse(t.inputSchemaJson) as Record<string, unknown>,
      },
    }));
  }
  if (params.toolChoiceJson !== "") Object.assign(body, toolChoice(params.toolChoiceJson));
  if (params.responseFormatJson !== "") {
    body.response_format = responseFormat(params.responseFormatJson);
  }
  if (params.stopSequences.length > 0) body.stop = [...params.stopSequences];
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.topP !== undefined) body.top_p = params.topP;
  if (params.topK !== undefined && flavor === "openai-compatible") body.top_k = params.topK;
  if (params.seed !== undefined) body.seed = Number(params.seed);
  return body;
}

function textContent(
  blocks: readonly TextBlock[],
  flatten: boolean,
  separator: string,
): string | ChatCompletionContentPartText[] {
  if (blocks.length === 1 || flatten) return blocks.map((b) => b.text).join(separator);
  return blocks.map((b) => ({ type: "text", text: b.text }));
}

function userMessages(blocks: readonly ContentBlock[], flatten: boolean) {
  const out: ChatCompletionMessageParam[] = [];
  const parts: ChatCompletionContentPart[] = [];
  for (const { block } of blocks) {
    switch (block.case) {
      case "toolResult": {
        const text = block.value.content.map((t) => t.text).join("\n");
        out.push({
          role: "tool",
          tool_call_id: block.value.toolUseId,
          content: block.value.isError ? `Error: ${text}` : text,
        });
        break;
      }
      case "text":
        parts.push({ type: "text", text: block.value.text });
        break;
      case "image": {
        const { source, mediaType } = block.value;
        const url = source.case === "url"
          ? source.value
          : `data:${mediaType};base64,${Buffer.from(source.value ?? []).toString("base64")}`;
        parts.push({ type: "image_url", image_url: { url } });
        break;
      }
      case "toolUse":
        throw new ProviderError("invalid_request", "a user message cannot carry a tool_use block");
      default:
        throw new ProviderError("invalid_request", "a content block has no content");
    }
  }

  if (parts.length === 0) return out;
  const onlyText = parts.every((p) => p.type === "text");
  const content = onlyText && (parts.length === 1 || flatten)
    ? parts.map((p) => (p as ChatCompletionContentPartText).text).join("\n")
    : parts;
  out.push({ role: "user", content });
  return out;
}

function assistantMessage(blocks: readonly ContentBlock[], flatten: boolean) {
  const texts: TextBlock[] = [];
  const calls: NonNullable<ChatCompletionAssistantMessageParam["tool_calls"]> = [];
  for (const { block } of blocks) {
    if (block.case === "text") texts.push(block.value);
    else if (block.case === "toolUse") {
      calls.push({
        id: block.value.id,
        type: "function",
        function: { name: block.value.name, arguments: block.value.inputJson || "{}" },
      });
    } else {
      throw new ProviderError("invalid_request", "an assistant message can carry only text " +
        "and tool_use blocks");
    }
  }

  const message: ChatCompletionAssistantMessageParam = {
    role: "assistant",
    content: texts.length > 0 ? textContent(texts, flatten, "") : null,
  };
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

/**
 * The caller's tool choice, given either way: Anthropic's ({"type":"auto"|"any"|"none"} or
 * {"type":"tool","name":...}, with disable_parallel_tool_use) or OpenAI's ("auto",
 * "required", "none" or {"type":"function","function":{"name":...}}).
 */
function toolChoice(json: string): Partial<OpenAIRequestBody> {
  const value = parseJson(json, "tool_choice_json");
  if (typeof value === "string") {
    const choice = value === "any" ? "required" : value;
    if (choice === "auto" || choice === "required" || choice === "none") {
      return { tool_choice: choice };
    }
  } else if (value && typeof value === "object") {
    const v = value as { type?: unknown; name?: unknown; function?: { name?: unknown };
      disable_parallel_tool_use?: unknown };
    const out: Partial<OpenAIRequestBody> = {};
    if (v.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
    if (v.type === "auto" || v.type === "none") out.tool_choice = v.type;
    else if (v.type === "any") out.tool_choice = "required";
    else if (v.type === "tool" && typeof v.name === "string") {
      out.tool_choice = { type: "function", function: { name: v.name } };
    } else if (v.type === "function" && typeof v.function?.name === "string") {
      out.tool_choice = value as ChatCompletionToolChoiceOption;
    }
    if (out.tool_choice !== undefined) return out;
  }
  throw new ProviderError("invalid_request", `tool_choice_json ${json} is not a tool choice; ` +
    'use "auto", "any", "none" or {"type":"tool","name":"..."}');
}

/** A response_format in OpenAI's shape is passed on; a bare JSON Schema is wrapped. */
function responseFormat(json: string): OpenAIRequestBody["response_format"] {
  const value = parseJson(json, "response_format_json") as Record<string, unknown> | null;
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ProviderError("invalid_request", "response_format_json must be a JSON object");
  }
  if (value.type === "text" || value.type === "json_object" || value.type === "json_schema") {
    return value as unknown as OpenAIRequestBody["response_format"];
  }
  return { type: "json_schema", json_schema: { name: "response", schema: value } };
}

function parseJson(json: string, field: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    throw new ProviderError("invalid_request", `${field} is not valid JSON`);
  }
}

/** The usage fields of a Chat Completions answer, as servers send them (some omit parts). */
export interface OpenAIUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
}

/**
 * Usage in the mesh's terms. prompt_tokens includes the cached ones, which are billed at
 * the cache-read price, so input is the rest; completion_tokens includes the reasoning
 * ones, which stay in output and are reported as a breakdown only.
 */
export function fromOpenAIUsage(usage: OpenAIUsage | null | undefined): TokenUsage {
  const prompt = usage?.prompt_tokens ?? 0;
  const cached = Math.min(prompt, usage?.prompt_tokens_details?.cached_tokens ?? 0);
  return {
    inputTokens: prompt - cached,
    outputTokens: usage?.completion_tokens ?? 0,
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
    reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

/**
 * The mesh's stop reason. `tool_calls` is TOOL_USE, and so is `stop` with tool calls (as
 * some self-hosted servers report it); `length` is MAX_TOKENS; a stop sequence is known
 * when the server names it (vLLM's `stop_reason`, TGI's `stop_sequence`).
 */
export function fromOpenAIFinishReason(
  finish: string | null | undefined,
  context: { toolCalls: boolean; refusal: boolean; stopSequence: string },
): StopReason {
  switch (finish) {
    case "tool_calls":
    case "function_call":
      return StopReason.TOOL_USE;
    case "length":
      return StopReason.MAX_TOKENS;
    case "content_filter":
      return StopReason.REFUSAL;
    case "stop_sequence":
      return StopReason.STOP_SEQUENCE;
    case "stop":
    case "eos_token":
      if (context.toolCalls) return StopReason.TOOL_USE;
      if (context.refusal) return StopReason.REFUSAL;
      return context.stopSequence !== "" ? StopReason.STOP_SEQUENCE : StopReason.END_TURN;
    default:
      return StopReason.UNSPECIFIED;
  }
}

/** Which of the request's stop sequences ended the answer, when the server says. */
function matchedStopSequence(
  finish: string | null | undefined,
  serverStop: unknown,
  sequences: readonly string[],
): string {
  if (typeof serverStop === "string" && sequences.includes(serverStop)) return serverStop;
  if (finish === "stop_sequence" && sequences.length === 1) return sequences[0] ?? "";
  return "";
}

/** The fields of a Chat Completions answer the mesh reads; servers vary in the rest. */
export interface OpenAICompletion {
  model?: string;
  choices?: Array<{
    finish_reason?: string | null;
    stop_reason?: unknown;
    message?: {
      content?: string | null;
      refusal?: string | null;
      tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }>;
    };
  }>;
  usage?: OpenAIUsage | null;
}

/** The mesh's result fields for a complete Chat Completions answer. */
export function fromOpenAICompletion(
  completion: OpenAICompletion,
  request: { upstreamModel: string; stopSequences: readonly string[] },
) {
  const choice = completion.choices?.[0];
  const message = choice?.message;
  const content: ContentBlock[] = [];
  const text = message?.content ?? message?.refusal ?? "";
  if (text !== "") {
    content.push(create(ContentBlockSchema, { block: { case: "text", value: { text } } }));
  }
  (message?.tool_calls ?? []).forEach((call, i) => {
    content.push(create(ContentBlockSchema, {
      block: {
        case: "toolUse",
        value: {
          id: call.id || `call_${i}`,
          name: call.function?.name ?? "",
          inputJson: call.function?.arguments || "{}",
        },
      },
    }));
  });

  const stopSequence = matchedStopSequence(choice?.finish_reason, choice?.stop_reason,
    request.stopSequences);
  return {
    content,
    stopReason: fromOpenAIFinishReason(choice?.finish_reason, {
      toolCalls: (message?.tool_calls?.length ?? 0) > 0,
      refusal: !message?.content && !!message?.refusal,
      stopSequence,
    }),
    stopSequence,
    usage: fromOpenAIUsage(completion.usage),
    upstreamModel: completion.model ?? request.upstreamModel,
  };
}

/** The fields of a stream chunk the mesh reads. */
export interface OpenAIChunk {
  model?: string;
  choices?: Array<{
    index?: number;
    finish_reason?: string | null;
    stop_reason?: unknown;
    delta?: {
      content?: string | null;
      refusal?: string | null;
      tool_calls?: Array<{
        index?: number;
        id?: string;
        function?: { name?: string; arguments?: string };
      }>;
    };
  }>;
  usage?: OpenAIUsage | null;
  error?: { message?: string; type?: string; code?: unknown } | string;
}

interface PendingTool {
  index: number;
  id: string;
  name: string;
  args: string;
}

/**
 * Turns Chat Completions stream chunks into the mesh's provider events. Blocks are indexed
 * in order of appearance (text, then each tool call), as Anthropic indexes them. Tool calls
 * are emitted whole when the finish_reason arrives. Usage comes from the final usage chunk
 * (asked for with stream_options.include_usage); `finish()` gives the stop event and throws
 * when the stream was cut before its end.
 */
export class OpenAIStreamMapper {
  private started = false;
  private nextIndex = 0;
  private textIndex: number | undefined;
  private refused = false;
  private readonly tools = new Map<number, PendingTool>();
  private finishReason: string | null | undefined;
  private serverStop: unknown;
  private usage: TokenUsage | undefined;
  private outputBytes = new Map<number, number>();

  constructor(
    private readonly request: { upstreamModel: string; stopSequences: readonly string[];
      promptTokens: number },
  ) {}

  /** The provider events for one chunk (often none). */
  map(chunk: OpenAIChunk): ProviderEvent[] {
    if (chunk.error !== undefined) throw streamError(chunk.error);
    const out: ProviderEvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push({ type: "start", upstreamModel: chunk.model ?? this.request.upstreamModel,
        usage: emptyUsage() });
    }

    const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
    const delta = choice?.delta;
    const text = delta?.content || delta?.refusal || "";
    if (delta?.refusal) this.refused = true;
    if (text !== "") {
      this.textIndex ??= this.nextIndex++;
      this.count(this.textIndex, text);
      out.push({ type: "text_delta", index: this.textIndex, text });
    }
    for (const call of delta?.tool_calls ?? []) {
      const key = call.index ?? 0;
      let tool = this.tools.get(key);
      if (!tool) {
        tool = { index: this.nextIndex++, id: "", name: "", args: "" };
        this.tools.set(key, tool);
      }
      if (call.id) tool.id = call.id;
      if (call.function?.name) tool.name += call.function.name;
      if (call.function?.arguments) tool.args += call.function.arguments;
    }

    if (choice?.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.serverStop = choice.stop_reason;
      for (const [key, tool] of this.tools) {
        this.count(tool.index, tool.name + (tool.args || "{}"));
        out.push({ type: "tool_use", index: tool.index, id: tool.id || `call_${key}`,
          name: tool.name, inputJson: tool.args || "{}" });
      }
    }
    if (chunk.usage) {
      this.usage = fromOpenAIUsage(chunk.usage);
      out.push({ type: "usage", usage: { ...this.usage } });
    }
    return out;
  }

  /**
   * The stop event once the body has ended. `sawDone` tells whether `data: [DONE]` came.
   * A stream with no finish_reason was cut; so was one with no [DONE] and no usage. A
   * server that ends cleanly without usage (it ignores stream_options) gets the mesh's
   * own count: the prompt estimate and textTokens of what was streamed.
   */
  finish(sawDone: boolean): ProviderEvent & { type: "stop" } {
    if (!this.finishReason) {
      throw new ProviderError("connection", "the stream ended before its finish_reason");
    }
    if (!sawDone && !this.usage) {
      throw new ProviderError("connection", "the stream ended before its usage and [DONE]");
    }

    const stopSequence = matchedStopSequence(this.finishReason, this.serverStop,
      this.request.stopSequences);
    const usage = this.usage ?? { ...emptyUsage(), inputTokens: this.request.promptTokens,
      outputTokens: this.countedOutput() };
    return {
      type: "stop",
      stopReason: fromOpenAIFinishReason(this.finishReason, {
        toolCalls: this.tools.size > 0,
        refusal: this.refused,
        stopSequence,
      }),
      stopSequence,
      usage,
    };
  }

  /** True when the server reported usage (false: the stop event's usage is counted). */
  usageReported(): boolean {
    return this.usage !== undefined;
  }

  private count(index: number, text: string): void {
    this.outputBytes.set(index, (this.outputBytes.get(index) ?? 0) + Buffer.byteLength(text));
  }

  private countedOutput(): number {
    let total = 0;
    for (const bytes of this.outputBytes.values()) total += Math.ceil(bytes / 4);
    return total;
  }
}

/** An error object sent inside a stream (vLLM, OpenAI and others send one on failure). */
function streamError(error: NonNullable<OpenAIChunk["error"]>): ProviderError {
  const message = typeof error === "string" ? error : error.message ?? "stream error";
  const type = typeof error === "string" ? "" : String(error.type ?? "");
  const code = typeof error === "string" ? undefined : error.code;
  const status = typeof code === "number" ? code : undefined;
  const text = `${type} ${typeof code === "string" ? code : ""} ${message}`;

  if (status === 429 || /rate_limit/i.test(text)) {
    return new ProviderError("rate_limited", message, { status });
  }
  if (status === 529 || status === 503 || /overloaded/i.test(text)) {
    return new ProviderError("overloaded", message, { status });
  }
  if ((status !== undefined && status >= 500) || /server_error|internal/i.test(text)) {
    return new ProviderError("server_error", message, { status });
  }
  return new ProviderError("unknown", message, { status });
}
