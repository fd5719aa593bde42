import { create } from "@bufbuild/protobuf";
import type {
  ContentBlockParam,
  ImageBlockParam,
  Message as AnthropicMessage,
  MessageCreateParamsNonStreaming,
  MessageDeltaUsage,
  MessageParam,
  RawMessageStreamEvent,
  StopReason as AnthropicStopReason,
  TextBlockParam,
  Tool,
  ToolChoice,
  Usage as AnthropicUsage,
} from "@anthropic-ai/sdk/resources/messages";
import {
  ContentBlockSchema,
  Role,
  StopReason,
  type ChatParams,
  type ContentBlock,
  type TextBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import { emptyUsage, ProviderError, type ProviderEvent, type TokenUsage } from "./types.js";

/**
 * The Messages API body. SDK 1.16's types no longer list the sampling parameters, but the
 * Messages API still takes them for the models in the catalog and the SDK sends the body
 * as given, so they are typed here.
 */
export type AnthropicRequestBody = MessageCreateParamsNonStreaming & {
  temperature?: number;
  top_p?: number;
  top_k?: number;
};

/** The Messages API request body for the mesh's params (without `stream`). */
export function toAnthropicRequest(
  params: ChatParams,
  upstreamModel: string,
  maxTokens: number,
): AnthropicRequestBody {
  const body: AnthropicRequestBody = {
    model: upstreamModel,
    max_tokens: maxTokens,
    messages: params.messages.map(
      (m): MessageParam => ({
        role: m.role === Role.ASSISTANT ? "assistant" : "user",
        content: m.content.map(toAnthropicBlock),
      }),
    ),
  };

  if (params.system.length > 0) body.system = params.system.map(toTextParam);
  if (params.tools.length > 0) {
    body.tools = params.tools.map((t): Tool => {
      const tool: Tool = {
        name: t.name,
        input_schema: JSON.parse(t.inputSchemaJson) as Tool.InputSchema,
      };
      if (t.description !== "") tool.description = t.description;
      return tool;
    });
  }
  if (params.toolChoiceJson !== "") body.tool_choice = toAnthropicToolChoice(params.toolChoiceJson);
  if (params.stopSequences.length > 0) body.stop_sequences = [...params.stopSequences];
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.topP !== undefined) body.top_p = params.topP;
  if (params.topK !== undefined) body.top_k = params.topK;
  return body;
}

/**
 * The caller's tool choice, given either way: Anthropic's own shape passes through; OpenAI's
 * ("auto", "required", "none", {"type":"function","function":{"name":...}}) is translated.
 */
function toAnthropicToolChoice(json: string): ToolChoice {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ProviderError("invalid_request", "tool_choice_json is not valid JSON");
  }

  if (value === "auto" || value === "any" || value === "none") return { type: value };
  if (value === "required") return { type: "any" };
  const v = (value ?? {}) as { type?: unknown; name?: unknown; function?: { name?: unknown } };
  if (v.type === "auto" || v.type === "any" || v.type === "none") return value as ToolChoice;
  if (v.type === "tool" && typeof v.name === "string") return value as ToolChoice;
  if (v.type === "function" && typeof v.function?.name === "string") {
    return { type: "tool", name: v.function.name };
  }
  throw new ProviderError("invalid_request", `tool_choice_json ${json} is not a tool choice; ` +
    'use "auto", "any", "none" or {"type":"tool","name":"..."}');
}

function toTextParam(block: TextBlock): TextBlockParam {
  const param: TextBlockParam = { type: "text", text: block.text };
  if (block.cacheControl) param.cache_control = { type: "ephemeral" };
  return param;
}

function toAnthropicBlock(block: ContentBlock): ContentBlockParam {
  const { block: b } = block;
  switch (b.case) {
    case "text":
      return toTextParam(b.value);
    case "toolUse":
      return {
        type: "tool_use",
        id: b.value.id,
        name: b.value.name,
        input: b.value.inputJson === "" ? {} : (JSON.parse(b.value.inputJson) as unknown),
      };
    case "toolResult": {
      const result: ContentBlockParam = {
        type: "tool_result",
        tool_use_id: b.value.toolUseId,
        content: b.value.content.map(toTextParam),
      };
      if (b.value.isError) result.is_error = true;
      return result;
    }
    case "image": {
      const source: ImageBlockParam["source"] = b.value.source.case === "url"
        ? { type: "url", url: b.value.source.value }
        : {
          type: "base64",
          media_type: b.value.mediaType as "image/png",
          data: Buffer.from(b.value.source.value ?? new Uint8Array()).toString("base64"),
        };
      return { type: "image", source };
    }
    default:
      throw new ProviderError("invalid_request", "a content block has no content");
  }
}

const STOP_REASONS: Record<AnthropicStopReason, StopReason> = {
  end_turn: StopReason.END_TURN,
  max_tokens: StopReason.MAX_TOKENS,
  stop_sequence: StopReason.STOP_SEQUENCE,
  tool_use: StopReason.TOOL_USE,
  refusal: StopReason.REFUSAL,
  // Only server-side tools pause a turn, and the mesh sends none; the turn is over for us.
  pause_turn: StopReason.END_TURN,
  // The output stopped because the context window filled: an output limit in effect.
  model_context_window_exceeded: StopReason.MAX_TOKENS,
};

/** The mesh's stop reason for an Anthropic one (unknown or null → UNSPECIFIED). */
export function fromAnthropicStopReason(reason: string | null | undefined): StopReason {
  return STOP_REASONS[reason as AnthropicStopReason] ?? StopReason.UNSPECIFIED;
}

/** Usage with every token class in its own field; thinking tokens as the reasoning share. */
export function fromAnthropicUsage(usage: AnthropicUsage | MessageDeltaUsage): TokenUsage {
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens,
    cacheReadTokens: usage.cache_read_input_tokens ?? 0,
    cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
    reasoningTokens: usage.output_tokens_details?.thinking_tokens ?? 0,
  };
}

/** The mesh's result fields for a complete Messages API answer. */
export function fromAnthropicMessage(message: AnthropicMessage) {
  const content: ContentBlock[] = [];
  for (const block of message.content) {
    if (block.type === "text") {
      content.push(
        create(ContentBlockSchema, { block: { case: "text", value: { text: block.text } } }),
      );
    } else if (block.type === "tool_use") {
      content.push(
        create(ContentBlockSchema, {
          block: {
            case: "toolUse",
            value: { id: block.id, name: block.name, inputJson: JSON.stringify(block.input ?? {}) },
          },
        }),
      );
    }
    // Thinking and server-tool blocks have no place in the mesh's model; they are dropped.
  }

  return {
    content,
    stopReason: fromAnthropicStopReason(message.stop_reason),
    stopSequence: message.stop_sequence ?? "",
    usage: fromAnthropicUsage(message.usage),
    upstreamModel: message.model,
  };
}

/**
 * Turns Messages API stream events into the mesh's provider events. Input and cache tokens
 * come from message_start, output tokens from the last message_delta; tool calls are
 * emitted whole when their block stops. `finish()` throws if message_stop never came.
 */
export class AnthropicStreamMapper {
  private usage: TokenUsage = emptyUsage();
  private stopReason: StopReason = StopReason.UNSPECIFIED;
  private stopSequence = "";
  private stopped = false;
  private readonly tools = new Map<number, { id: string; name: string; json: string }>();

  /** The provider events for one Anthropic event (often none). */
  map(event: RawMessageStreamEvent): ProviderEvent[] {
    switch (event.type) {
      case "message_start": {
        this.usage = { ...fromAnthropicUsage(event.message.usage), outputTokens: 0 };
        return [{ type: "start", upstreamModel: event.message.model, usage: { ...this.usage } }];
      }
      case "content_block_start": {
        const block = event.content_block;
        if (block.type === "tool_use") {
          this.tools.set(event.index, { id: block.id, name: block.name, json: "" });
        } else if (block.type === "text" && block.text !== "") {
          return [{ type: "text_delta", index: event.index, text: block.text }];
        }
        return [];
      }
      case "content_block_delta": {
        const delta = event.delta;
        if (delta.type === "text_delta") {
          return [{ type: "text_delta", index: event.index, text: delta.text }];
        }
        if (delta.type === "input_json_delta") {
          const tool = this.tools.get(event.index);
          if (tool) tool.json += delta.partial_json;
        }
        return [];
      }
      case "content_block_stop": {
        const tool = this.tools.get(event.index);
        if (!tool) return [];
        this.tools.delete(event.index);
        return [{
          type: "tool_use",
          index: event.index,
          id: tool.id,
          name: tool.name,
          inputJson: tool.json === "" ? "{}" : tool.json,
        }];
      }
      case "message_delta": {
        this.usage.outputTokens = event.usage.output_tokens;
        const reasoning = event.usage.output_tokens_details?.thinking_tokens;
        if (reasoning !== undefined) this.usage.reasoningTokens = reasoning;
        this.stopReason = fromAnthropicStopReason(event.delta.stop_reason);
        this.stopSequence = event.delta.stop_sequence ?? "";
        return [{ type: "usage", usage: { ...this.usage } }];
      }
      case "message_stop": {
        this.stopped = true;
        return [{
          type: "stop",
          stopReason: this.stopReason,
          stopSequence: this.stopSequence,
          usage: { ...this.usage },
        }];
      }
      default:
        return [];
    }
  }

  /** Usage seen so far, for billing a stream that failed part-way. */
  usageSoFar(): TokenUsage {
    return { ...this.usage };
  }

  /** Throws when the stream ended without message_stop (a cut connection). */
  finish(): void {
    if (!this.stopped) {
      throw new ProviderError("connection", "the stream ended before message_stop");
    }
  }
}
