import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import {
  ContentBlockSchema,
  Role,
  StopReason,
  type ChatParams,
  type ContentBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import type { CatalogDeployment } from "../catalog.js";
import { estimatePromptTokens, textTokens } from "../params.js";
import {
  ProviderError,
  type Provider,
  type ProviderEvent,
  type ProviderRequest,
  type ProviderResult,
} from "./types.js";

/** Simulator behaviour shared by every simulator deployment. */
export interface SimulatorSettings {
  /** Wait before the answer (unary) or before the first delta (stream). 0 is allowed. */
  latencyMs: number;
  /** Catalog model names whose simulator deployment always fails. */
  failModels: readonly string[];
  /** Share of calls (0..1) that fail, drawn from a PRNG seeded with `seed`. */
  failureRate: number;
  /** HTTP-like status of injected failures: 529 overloaded (default), 429, 500 or 503. */
  failureStatus: number;
  seed: number;
}

/** Prefix of every simulated answer, so nobody mistakes it for a model's words. */
export const SIMULATOR_PREFIX = "[simulator]";

const WORDS = [
  "mesh", "route", "token", "model", "latency", "cache", "trace", "budget", "signal", "answer",
  "stream", "policy", "tier", "shard", "queue", "probe", "ledger", "metric", "guard", "vector",
  "prompt", "window", "replica", "fallback", "circuit", "retry", "jitter", "span", "sample",
  "context", "gateway", "service",
];

/**
 * The `simulator` provider: a stand-in that needs no network. Everything is a function of
 * the request, so the same prompt gives the same answer and usage on every run:
 *
 * - text: `[simulator] <model> reply <8 hex of sha256(prompt)>:` followed by 8–39 words
 *   picked from a fixed list by successive hash bytes, ending in "."; the prompt is the
 *   system text, every message's text and tool data, and the tool definitions.
 * - tool call: when tools are defined and the last message is not a tool result, the
 *   answer is one tool_use of tools[hash % n] with input `{}`, stop reason TOOL_USE.
 * - tokens: input = estimatePromptTokens(params) (1 token per 4 UTF-8 bytes, rounded up,
 *   1,600 per image); output = textTokens(answer text), or of the tool call's name + input.
 * - max_tokens: words are dropped from the end until the text fits; stop reason MAX_TOKENS.
 * - stop sequences: the text is cut before the first one found; stop reason STOP_SEQUENCE.
 * - cache tokens: always 0 (the simulator keeps no prompt cache).
 */
export function createSimulatorProvider(
  deployment: CatalogDeployment,
  settings: SimulatorSettings,
): Provider {
  const alwaysFails = settings.failModels.includes(deployment.model);
  const random = mulberry32(settings.seed);

  function maybeFail(): void {
    const injected = alwaysFails || (settings.failureRate > 0 && random() < settings.failureRate);
    if (!injected) return;

    const status = settings.failureStatus;
    const kind = status === 529 ? "overloaded" : status === 429 ? "rate_limited" : "server_error";
    throw new ProviderError(kind, `simulated failure of ${deployment.id}`, { status });
  }

  async function wait(signal: AbortSignal | undefined): Promise<void> {
    if (settings.latencyMs <= 0) return;
    try {
      await delay(settings.latencyMs, undefined, signal ? { signal } : undefined);
    } catch (err) {
      throw new ProviderError("cancelled", "the request was cancelled", { cause: err });
    }
  }

  return {
    kind: "simulator",

    async complete(request) {
      maybeFail();
      await wait(request.signal);
      return simulate(request);
    },

    async *stream(request): AsyncGenerator<ProviderEvent> {
      maybeFail();
      const result = simulate(request);
      yield {
        type: "start",
        upstreamModel: result.upstreamModel,
        usage: { ...result.usage, outputTokens: 0 },
      };
      await wait(request.signal);

      for (const [index, block] of result.content.entries()) {
        if (block.block.case === "text") {
          for (const text of splitDeltas(block.block.value.text)) {
            yield { type: "text_delta", index, text };
          }
        } else if (block.block.case === "toolUse") {
          const { id, name, inputJson } = block.block.value;
          yield { type: "tool_use", index, id, name, inputJson };
        }
      }
      yield {
        type: "stop",
        stopReason: result.stopReason,
        stopSequence: result.stopSequence,
        usage: result.usage,
      };
    },
  };
}

/** The simulator's answer to a request, without latency or failures. */
export function simulate(request: ProviderRequest): ProviderResult {
  const { params } = request;
  const prompt = promptText(params);
  const hash = createHash("sha256").update(prompt).digest();
  const inputTokens = Math.max(1, estimatePromptTokens(params));
  const upstreamModel = `simulator/${request.model}`;

  const last = params.messages.at(-1);
  const answersTool = last?.role === Role.USER &&
    last.content.some((b) => b.block.case === "toolResult");
  if (params.tools.length > 0 && !answersTool) {
    const tool = params.tools[(hash[0] ?? 0) % params.tools.length];
    if (tool) {
      const id = `toolu_sim_${hash.subarray(0, 8).toString("hex")}`;
      const block = create(ContentBlockSchema, {
        block: { case: "toolUse", value: { id, name: tool.name, inputJson: "{}" } },
      });
      return {
        content: [block],
        stopReason: StopReason.TOOL_USE,
        stopSequence: "",
        usage: usage(inputTokens, textTokens(tool.name) + textTokens("{}")),
        upstreamModel,
      };
    }
  }

  const tag = hash.subarray(0, 4).toString("hex");
  const header = `${SIMULATOR_PREFIX} ${request.model} reply ${tag}:`;
  const wordCount = 8 + ((hash[4] ?? 0) % 32);
  const words = Array.from({ length: wordCount }, (_, i) => WORDS[(hash[5 + i] ?? i) % 32]);
  let text = `${header} ${words.join(" ")}.`;
  let stopReason = StopReason.END_TURN;
  let stopSequence = "";

  const found = firstStopSequence(text, params.stopSequences);
  if (found) {
    text = text.slice(0, found.at);
    stopReason = StopReason.STOP_SEQUENCE;
    stopSequence = found.sequence;
  }

  while (textTokens(text) > request.maxTokens && text.includes(" ")) {
    text = text.slice(0, text.lastIndexOf(" "));
    stopReason = StopReason.MAX_TOKENS;
    stopSequence = "";
  }

  return {
    content: [create(ContentBlockSchema, { block: { case: "text", value: { text } } })],
    stopReason,
    stopSequence,
    usage: usage(inputTokens, textTokens(text)),
    upstreamModel,
  };
}

function usage(inputTokens: number, outputTokens: number) {
  return { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
}

/** Everything the answer depends on, joined with separators that text cannot fake. */
function promptText(params: ChatParams): string {
  const parts: string[] = params.system.map((b) => b.text);
  for (const message of params.messages) {
    parts.push(`\u0000role:${message.role}`);
    for (const block of message.content) parts.push(blockText(block));
  }
  for (const tool of params.tools) parts.push(`\u0000tool:${tool.name}:${tool.inputSchemaJson}`);
  return parts.join("\u0001");
}

function blockText(block: ContentBlock): string {
  switch (block.block.case) {
    case "text":
      return block.block.value.text;
    case "toolUse":
      return `${block.block.value.name}:${block.block.value.inputJson}`;
    case "toolResult":
      return block.block.value.content.map((t) => t.text).join("\n");
    case "image":
      return `image:${block.block.value.mediaType}`;
    default:
      return "";
  }
}

function firstStopSequence(text: string, sequences: readonly string[]) {
  let best: { at: number; sequence: string } | undefined;
  for (const sequence of sequences) {
    if (sequence === "") continue;
    const at = text.indexOf(sequence);
    if (at >= 0 && (best === undefined || at < best.at)) best = { at, sequence };
  }
  return best;
}

/** Cuts text into about four deltas on word boundaries, so streams have several. */
function splitDeltas(text: string): string[] {
  const words = text.split(/(?<= )/);
  const size = Math.max(1, Math.ceil(words.length / 4));
  const out: string[] = [];
  for (let i = 0; i < words.length; i += size) out.push(words.slice(i, i + size).join(""));
  return out;
}

/** A small seeded PRNG, so injected failures repeat run after run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
