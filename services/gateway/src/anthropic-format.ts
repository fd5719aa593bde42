import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  ChatParamsSchema,
  ContentBlockSchema,
  Role,
  StopReason,
  type ChatParams,
  type ChatResult,
  type ContentBlock,
  type GuardrailVerdict,
  type Usage,
} from "@mesh/contracts/common/v1/chat_pb";
import { formatUsd, moneyToNanos } from "@mesh/money";
import { z } from "@mesh/config";
import { describeIssues } from "./body-issues.js";
import { invalidRequest } from "./errors.js";
import {
  meshHintsSchema,
  readHintHeaders,
  requestedModel,
  routingHints,
  type HintHeaders,
} from "./mesh-hints.js";

export { readHintHeaders, type HintHeaders };

// The Anthropic Messages request as the gateway accepts it. Unknown top-level fields are
// ignored, as the upstream API ignores fields it does not use; unknown block types are refused.
const cacheControl = z.object({ type: z.literal("ephemeral") }).passthrough().optional();
const textBlock = z.object({
  type: z.literal("text"),
  text: z.string(),
  cache_control: cacheControl,
});
const imageBlock = z.object({
  type: z.literal("image"),
  source: z.discriminatedUnion("type", [
    z.object({ type: z.literal("base64"), media_type: z.string(), data: z.string() }),
    z.object({ type: z.literal("url"), url: z.string().url() }),
  ]),
  cache_control: cacheControl,
});
const toolUseBlock = z.object({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});
const toolResultBlock = z.object({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(textBlock)]).optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});
const block = z.discriminatedUnion("type", [textBlock, imageBlock, toolUseBlock, toolResultBlock]);

/** The Messages request body the gateway accepts. */
export const messagesRequestSchema = z.object({
  model: z.string().min(1, "model is required; use \"auto\" to let the mesh choose"),
  max_tokens: z.number().int().min(1),
  messages: z
    .array(
      z.object({
        role: z.enum(["user", "assistant"]),
        content: z.union([z.string().min(1), z.array(block).min(1)]),
      }),
    )
    .min(1, "at least one message is required"),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  metadata: z.object({ user_id: z.string().optional() }).passthrough().optional(),
  tools: z
    .array(
      z.object({
        name: z.string().min(1),
        description: z.string().optional(),
        input_schema: z.record(z.string(), z.unknown()),
      }),
    )
    .optional(),
  tool_choice: z
    .object({
      type: z.enum(["auto", "any", "tool", "none"]),
      name: z.string().min(1).optional(),
      disable_parallel_tool_use: z.boolean().optional(),
    })
    .refine((c) => c.type !== "tool" || c.name !== undefined, "name is required for type tool")
    .optional(),
  mesh: meshHintsSchema,
});

/** A validated Messages request. */
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;

/** Parses and validates a Messages body; problems become one 400 naming every field. */
export function parseMessagesRequest(body: unknown): MessagesRequest {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidRequest("request body must be a JSON object");
  }

  const parsed = messagesRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw invalidRequest(describeIssues(parsed.error.issues));
  }
  return parsed.data;
}

/** Maps a Messages request onto the mesh's ChatParams. */
export function toChatParams(req: MessagesRequest, headers: HintHeaders): ChatParams {
  return create(ChatParamsSchema, {
    model: requestedModel(req.model),
    hints: routingHints(req.mesh, headers),
    // An empty system prompt is no system prompt, as the upstream API treats it.
    system: typeof req.system === "string"
      ? (req.system === "" ? [] : [{ text: req.system }])
      : (req.system ?? [])
        .filter((b) => b.text !== "")
        .map((b) => ({ text: b.text, cacheControl: Boolean(b.cache_control) })),
    messages: req.messages.map((m) => ({
      role: m.role === "user" ? Role.USER : Role.ASSISTANT,
      content: typeof m.content === "string"
        ? [{ block: { case: "text" as const, value: { text: m.content } } }]
        : m.content.map(toContentBlock),
    })),
    temperature: req.temperature,
    maxTokens: req.max_tokens,
    stopSequences: req.stop_sequences ?? [],
    metadata: req.metadata?.user_id ? { user_id: req.metadata.user_id } : {},
    tools: (req.tools ?? []).map((t) => ({
      name: t.name,
      description: t.description ?? "",
      inputSchemaJson: JSON.stringify(t.input_schema),
    })),
    topP: req.top_p,
    topK: req.top_k,
    toolChoiceJson: req.tool_choice ? JSON.stringify(req.tool_choice) : "",
  });
}

type InputBlock = z.infer<typeof block>;

function toContentBlock(b: InputBlock): MessageInitShape<typeof ContentBlockSchema> {
  switch (b.type) {
    case "text":
      return {
        block: { case: "text", value: { text: b.text, cacheControl: Boolean(b.cache_control) } },
      };
    case "image":
      return {
        block: {
          case: "image" as const,
          value: b.source.type === "base64"
            ? {
                mediaType: b.source.media_type,
                source: { case: "data" as const, value: Buffer.from(b.source.data, "base64") },
              }
            : { mediaType: "", source: { case: "url" as const, value: b.source.url } },
        },
      };
    case "tool_use":
      return {
        block: {
          case: "toolUse" as const,
          value: { id: b.id, name: b.name, inputJson: JSON.stringify(b.input) },
        },
      };
    case "tool_result":
      return {
        block: {
          case: "toolResult" as const,
          value: {
            toolUseId: b.tool_use_id,
            isError: b.is_error ?? false,
            content: typeof b.content === "string"
              ? [{ text: b.content }]
              : (b.content ?? []).map((t) => ({ text: t.text })),
          },
        },
      };
  }
}

/** The Anthropic name of a stop reason; a guardrail stop reads as a refusal. */
export function anthropicStopReason(reason: StopReason): string | null {
  switch (reason) {
    case StopReason.END_TURN:
      return "end_turn";
    case StopReason.MAX_TOKENS:
      return "max_tokens";
    case StopReason.STOP_SEQUENCE:
      return "stop_sequence";
    case StopReason.TOOL_USE:
      return "tool_use";
    case StopReason.REFUSAL:
    case StopReason.GUARDRAIL:
      return "refusal";
    default:
      return null;
  }
}

/** Anthropic's usage object. */
export function anthropicUsage(usage: Usage | undefined) {
  return {
    input_tokens: usage?.inputTokens ?? 0,
    output_tokens: usage?.outputTokens ?? 0,
    cache_creation_input_tokens: usage?.cacheWriteTokens ?? 0,
    cache_read_input_tokens: usage?.cacheReadTokens ?? 0,
  };
}

/** A content block in Anthropic's shape. */
export function anthropicBlock(b: ContentBlock) {
  switch (b.block.case) {
    case "text":
      return { type: "text", text: b.block.value.text };
    case "toolUse":
      return {
        type: "tool_use",
        id: b.block.value.id,
        name: b.block.value.name,
        input: parseJsonObject(b.block.value.inputJson),
      };
    default:
      return undefined;
  }
}

/** What the mesh adds to a response: ignored by Anthropic clients, read by ours. */
export function meshExtension(result: ChatResult) {
  return {
    request_id: result.requestId,
    provider: result.provider,
    cost_usd: formatUsd(moneyToNanos(result.cost)),
    cache_hit: result.cacheHit,
    routing: result.routing
      ? { model: result.routing.model, tier: result.routing.tier, reason: result.routing.reason }
      : undefined,
    guardrails: result.guardrails.map(verdictJson),
  };
}

/** A guardrail verdict as JSON in the mesh extension. */
export function verdictJson(v: GuardrailVerdict) {
  return {
    check: v.check,
    stage: v.stage,
    passed: v.passed,
    action: ["unspecified", "allow", "redact", "block", "flag"][v.action] ?? "unspecified",
    category: v.category,
    score: v.score,
    reason: v.reason,
  };
}

/** The full non-streaming Messages response. */
export function toMessagesResponse(result: ChatResult) {
  return {
    id: messageId(result.requestId),
    type: "message",
    role: "assistant",
    model: result.model,
    content: result.content.map(anthropicBlock).filter((b) => b !== undefined),
    stop_reason: anthropicStopReason(result.stopReason),
    stop_sequence: result.stopSequence || null,
    usage: anthropicUsage(result.usage),
    mesh: meshExtension(result),
  };
}

/** The message id for a request id, as Anthropic shapes them. */
export function messageId(requestId: string): string {
  return `msg_${requestId.replace(/^req_/, "")}`;
}

function parseJsonObject(text: string): unknown {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {};
  }
}
