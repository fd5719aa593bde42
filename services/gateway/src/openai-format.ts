import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  ChatParamsSchema,
  Role,
  StopReason,
  type ChatEvent,
  type ChatParams,
  type ChatResult,
  type ContentBlockSchema,
  type Usage,
} from "@mesh/contracts/common/v1/chat_pb";
import type { ModelInfo } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import { z } from "@mesh/config";
import { meshExtension } from "./anthropic-format.js";
import { describeIssues } from "./body-issues.js";
import { invalidRequest } from "./errors.js";
import { meshHintsSchema, requestedModel, routingHints, type HintHeaders } from "./mesh-hints.js";

// The Chat Completions request as the gateway accepts it. Optional fields may be null, as the
// OpenAI SDKs send them. Unknown fields are ignored; fields the mesh cannot honour (several
// choices, log probabilities, penalties, logit bias) are refused rather than ignored.
const textPart = z.object({ type: z.literal("text"), text: z.string() });
const imagePart = z.object({
  type: z.literal("image_url"),
  image_url: z.object({ url: z.string().min(1), detail: z.string().optional() }),
});
const refusalPart = z.object({ type: z.literal("refusal"), refusal: z.string() });
const textContent = z.union([z.string(), z.array(textPart)]);
const toolCall = z.object({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content: textContent, name: z.string().optional() }),
  z.object({ role: z.literal("developer"), content: textContent, name: z.string().optional() }),
  z.object({
    role: z.literal("user"),
    content: z.union([
      z.string(),
      z.array(z.discriminatedUnion("type", [textPart, imagePart])).min(1),
    ]),
    name: z.string().optional(),
  }),
  z.object({
    role: z.literal("assistant"),
    content: z
      .union([z.string(), z.array(z.discriminatedUnion("type", [textPart, refusalPart]))])
      .nullable()
      .optional(),
    tool_calls: z.array(toolCall).optional(),
    refusal: z.string().nullable().optional(),
    name: z.string().optional(),
  }),
  z.object({ role: z.literal("tool"), tool_call_id: z.string().min(1), content: textContent }),
]);

const nullish = <T extends z.ZodType>(schema: T) => schema.nullable().optional();
const unsupported = (what: string) =>
  z.unknown().optional().refine((v) => v === undefined || v === null || v === false || v === 0,
    `${what} is not supported by this gateway; leave it out`);

/** The Chat Completions request body the gateway accepts. */
export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1, "model is required; use \"auto\" to let the mesh choose"),
  messages: z.array(message).min(1, "at least one message is required"),
  max_tokens: nullish(z.number().int().min(1)),
  max_completion_tokens: nullish(z.number().int().min(1)),
  // OpenAI takes 0 to 2; every model behind the mesh takes 0 to 1, and no mapping between the
  // two scales keeps their meaning, so above 1 is refused here with the field named.
  temperature: nullish(z.number().min(0).max(1,
    "the models behind this gateway take a temperature from 0 to 1")),
  top_p: nullish(z.number().min(0).max(1)),
  n: nullish(z.literal(1, "only n = 1 is supported")),
  stop: nullish(z.union([z.string(), z.array(z.string()).max(4, "at most 4 stop sequences")])),
  stream: nullish(z.boolean()),
  stream_options: nullish(z.object({ include_usage: z.boolean().optional() })),
  tools: z
    .array(
      z.object({
        type: z.literal("function"),
        function: z.object({
          name: z.string().min(1),
          description: z.string().optional(),
          parameters: z.record(z.string(), z.unknown()).optional(),
          strict: nullish(z.boolean()),
        }),
      }),
    )
    .optional(),
  tool_choice: z
    .union([
      z.enum(["none", "auto", "required"]),
      z.object({ type: z.literal("function"), function: z.object({ name: z.string().min(1) }) }),
    ])
    .optional(),
  parallel_tool_calls: nullish(z.boolean()),
  response_format: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("text") }),
      z.object({ type: z.literal("json_object") }),
      z.object({
        type: z.literal("json_schema"),
        json_schema: z.object({
          name: z.string().min(1),
          description: z.string().optional(),
          schema: z.record(z.string(), z.unknown()).optional(),
          strict: nullish(z.boolean()),
        }),
      }),
    ])
    .optional(),
  seed: nullish(z.number().int()),
  user: z.string().optional(),
  metadata: nullish(z.record(z.string(), z.string())),
  logprobs: unsupported("logprobs"),
  top_logprobs: unsupported("top_logprobs"),
  frequency_penalty: unsupported("a non-zero frequency_penalty"),
  presence_penalty: unsupported("a non-zero presence_penalty"),
  logit_bias: z
    .record(z.string(), z.number())
    .nullable()
    .optional()
    .refine((v) => !v || Object.keys(v).length === 0, "logit_bias is not supported; leave it out"),
  mesh: meshHintsSchema,
});

/** A validated Chat Completions request. */
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;
type RequestMessage = ChatCompletionRequest["messages"][number];
type BlockInit = MessageInitShape<typeof ContentBlockSchema>;

/** Parses and validates a Chat Completions body; problems become one 400 naming every field. */
export function parseChatCompletionRequest(body: unknown): ChatCompletionRequest {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidRequest("request body must be a JSON object");
  }

  const parsed = chatCompletionRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw invalidRequest(describeIssues(parsed.error.issues));
  }
  return parsed.data;
}

/**
 * Maps a Chat Completions request onto the mesh's ChatParams. System and developer messages
 * become the system prompt; tool messages become tool results in a user turn; consecutive
 * turns of one role are merged, as the Messages API wants them.
 */
export function toChatParams(req: ChatCompletionRequest, headers: HintHeaders): ChatParams {
  const system: { text: string }[] = [];
  const turns: { role: Role; content: BlockInit[] }[] = [];

  req.messages.forEach((m, i) => {
    if (m.role === "system" || m.role === "developer") {
      system.push(...textsOf(m.content).filter((t) => t !== "").map((text) => ({ text })));
      return;
    }
    const role = m.role === "assistant" ? Role.ASSISTANT : Role.USER;
    const content = blocksOf(m, i);
    const last = turns.at(-1);
    if (last && last.role === role) last.content.push(...content);
    else turns.push({ role, content });
  });

  const stop = req.stop ?? [];
  return create(ChatParamsSchema, {
    model: requestedModel(req.model),
    hints: routingHints(req.mesh, headers),
    system,
    messages: turns,
    temperature: req.temperature ?? undefined,
    topP: req.top_p ?? undefined,
    maxTokens: req.max_completion_tokens ?? req.max_tokens ?? 0,
    stopSequences: typeof stop === "string" ? [stop] : stop,
    metadata: { ...(req.metadata ?? {}), ...(req.user ? { user_id: req.user } : {}) },
    tools: (req.tools ?? []).map((t) => ({
      name: t.function.name,
      description: t.function.description ?? "",
      inputSchemaJson: JSON.stringify(t.function.parameters ?? { type: "object", properties: {} }),
    })),
    toolChoiceJson: toolChoiceJson(req),
    responseFormatJson: req.response_format && req.response_format.type !== "text"
      ? JSON.stringify(req.response_format)
      : "",
    seed: req.seed === null || req.seed === undefined ? undefined : BigInt(req.seed),
  });
}

function textsOf(content: string | { text: string }[]): string[] {
  return typeof content === "string" ? [content] : content.map((p) => p.text);
}

function blocksOf(m: Exclude<RequestMessage, { role: "system" | "developer" }>, i: number) {
  const blocks: BlockInit[] = [];
  const text = (value: string) => ({ block: { case: "text" as const, value: { text: value } } });

  switch (m.role) {
    case "user":
      if (typeof m.content === "string") return [text(m.content)];
      return m.content.map((part) => (part.type === "text" ? text(part.text) : image(part)));
    case "tool":
      return [
        {
          block: {
            case: "toolResult" as const,
            value: {
              toolUseId: m.tool_call_id,
              content: textsOf(m.content).map((t) => ({ text: t })),
            },
          },
        },
      ];
    case "assistant": {
      const parts = typeof m.content === "string" ? [m.content] : (m.content ?? []).map((p) =>
        p.type === "text" ? p.text : p.refusal);
      for (const part of parts) if (part) blocks.push(text(part));
      (m.tool_calls ?? []).forEach((call, j) => {
        blocks.push({
          block: {
            case: "toolUse" as const,
            value: {
              id: call.id,
              name: call.function.name,
              inputJson: toolArguments(call.function.arguments, `messages.${i}.tool_calls.${j}`),
            },
          },
        });
      });
      if (blocks.length === 0) {
        throw invalidRequest(`messages.${i}: an assistant message needs content or tool_calls`);
      }
      return blocks;
    }
  }
}

function image(part: { image_url: { url: string } }): BlockInit {
  const url = part.image_url.url;
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (data) {
    const bytes = Buffer.from(data[2] ?? "", "base64");
    return {
      block: {
        case: "image",
        value: { mediaType: data[1] ?? "", source: { case: "data", value: bytes } },
      },
    };
  }
  return {
    block: { case: "image", value: { mediaType: "", source: { case: "url", value: url } } },
  };
}

/** Tool arguments must be a JSON object: models take tool input as an object. */
function toolArguments(text: string, path: string): string {
  let value: unknown;
  try {
    value = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    throw invalidRequest(`${path}.function.arguments: must be JSON text`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidRequest(`${path}.function.arguments: must be a JSON object`);
  }
  return JSON.stringify(value);
}

/** OpenAI's tool_choice in the mesh's (Anthropic-shaped) form. */
function toolChoiceJson(req: ChatCompletionRequest): string {
  const choice = req.tool_choice;
  const parallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) {
    return req.parallel_tool_calls === false ? JSON.stringify({ type: "auto", ...parallel }) : "";
  }
  if (choice === "none") return JSON.stringify({ type: "none" });
  if (choice === "auto") return JSON.stringify({ type: "auto", ...parallel });
  if (choice === "required") return JSON.stringify({ type: "any", ...parallel });
  return JSON.stringify({ type: "tool", name: choice.function.name, ...parallel });
}

/** OpenAI's finish_reason for a stop reason; a guardrail stop reads as a content filter. */
export function finishReason(reason: StopReason): string {
  switch (reason) {
    case StopReason.MAX_TOKENS:
      return "length";
    case StopReason.TOOL_USE:
      return "tool_calls";
    case StopReason.REFUSAL:
    case StopReason.GUARDRAIL:
      return "content_filter";
    default:
      return "stop";
  }
}

/** OpenAI's usage object: prompt tokens include cached input, as OpenAI counts them. */
export function openAiUsage(usage: Usage | undefined) {
  const cached = usage?.cacheReadTokens ?? 0;
  const prompt = (usage?.inputTokens ?? 0) + cached + (usage?.cacheWriteTokens ?? 0);
  const completion = usage?.outputTokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
    completion_tokens_details: { reasoning_tokens: usage?.reasoningTokens ?? 0 },
  };
}

/** The chat.completion id for a request id, as OpenAI shapes them. */
export function completionId(requestId: string): string {
  return `chatcmpl-${requestId.replace(/^req_/, "")}`;
}

const WITHHELD = "the answer was withheld by the gateway's output guardrails";

/** The full non-streaming chat.completion object. */
export function toChatCompletion(result: ChatResult, createdS: number) {
  const text = result.content
    .map((b) => (b.block.case === "text" ? b.block.value.text : ""))
    .join("");
  const toolCalls = result.content.flatMap((b) =>
    b.block.case === "toolUse"
      ? [{
          id: b.block.value.id,
          type: "function" as const,
          function: { name: b.block.value.name, arguments: b.block.value.inputJson || "{}" },
        }]
      : [],
  );
  const withheld = result.stopReason === StopReason.GUARDRAIL;
  return {
    id: completionId(result.requestId),
    object: "chat.completion",
    created: createdS,
    model: result.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text || (toolCalls.length > 0 || withheld ? null : ""),
          refusal: withheld ? WITHHELD : null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          annotations: [],
        },
        logprobs: null,
        finish_reason: finishReason(result.stopReason),
      },
    ],
    usage: openAiUsage(result.usage),
    mesh: meshExtension(result),
  };
}

/**
 * Turns mesh stream events into chat.completion.chunk SSE frames: a role chunk first, content
 * and tool-call deltas, a chunk with the finish reason, then (when asked with
 * stream_options.include_usage) a usage chunk with no choices. `end()` gives `data: [DONE]`.
 */
export function createChunkWriter(options: {
  id: string;
  createdS: number;
  includeUsage: boolean;
}) {
  let model = "";
  let toolIndex = 0;
  const usageField = options.includeUsage ? { usage: null } : {};
  const chunk = (choices: unknown[], extra: Record<string, unknown> = usageField) =>
    sse({
      id: options.id,
      object: "chat.completion.chunk",
      created: options.createdS,
      model,
      system_fingerprint: null,
      choices,
      ...extra,
    });
  const delta = (d: Record<string, unknown>, finish: string | null = null) => ({
    index: 0,
    delta: d,
    logprobs: null,
    finish_reason: finish,
  });

  return {
    map(event: ChatEvent): string {
      const e = event.event;
      switch (e.case) {
        case "start":
          model = e.value.model;
          return chunk([delta({ role: "assistant", content: "", refusal: null })]);
        case "textDelta":
          return chunk([delta({ content: e.value.text })]);
        case "toolUse":
          return chunk([
            delta({
              tool_calls: [
                {
                  index: toolIndex++,
                  id: e.value.id,
                  type: "function",
                  function: { name: e.value.name, arguments: e.value.inputJson || "{}" },
                },
              ],
            }),
          ]);
        case "done": {
          model ||= e.value.model;
          const withheld = e.value.stopReason === StopReason.GUARDRAIL;
          const last = chunk(
            [delta(withheld ? { refusal: WITHHELD } : {}, finishReason(e.value.stopReason))],
            { ...usageField, mesh: meshExtension(e.value) },
          );
          if (!options.includeUsage) return last;
          return last + chunk([], { usage: openAiUsage(e.value.usage) });
        }
        default:
          // Guardrail verdicts travel in the last chunk's mesh field; OpenAI has no event for them.
          return "";
      }
    },
    end: () => "data: [DONE]\n\n",
  };
}

/** An error frame inside a stream, which the OpenAI SDKs raise as an APIError. */
export function errorFrame(error: { message: string; type: string; code: string }): string {
  return sse({ error: { ...error, param: null } });
}

function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** GET /v1/models: the catalog in OpenAI's list shape, with the mesh's details alongside. */
export function toModelList(models: readonly ModelInfo[]) {
  return { object: "list", data: models.map(toModel) };
}

/** One model in OpenAI's model shape. */
export function toModel(m: ModelInfo) {
  return {
    id: m.name,
    object: "model",
    created: 0,
    owned_by: m.providers[0] ?? "mesh",
    mesh: {
      tier: m.tier,
      context_window: m.contextWindow,
      max_output_tokens: m.maxOutputTokens,
      providers: m.providers,
    },
  };
}
