import type { ChatParams, Usage } from "@mesh/contracts/common/v1/chat_pb";
import type { KeyIdentity } from "./api-keys.js";
import { tightest, type LimitCounters, type LimitWindow, type Taken } from "./limit-counters.js";
import { countersFor, limitError } from "./rate-limits.js";
import type { EffectivePolicy } from "./tenant-policy.js";

/** Tokens held for one request until its usage is known. */
export interface TokenReservation {
  readonly reserved: number;
  /** The tightest token window after the reservation; undefined when no limit applies. */
  readonly window: LimitWindow | undefined;
  /**
   * Corrects the counters to what the request really used: unused tokens go back (while
   * their window is open), tokens beyond the reservation are added. Only the first call counts.
   */
  settle(actualTokens: number): Promise<void>;
}

/** Tokens per minute, per key and per tenant, reserved before a model call. */
export interface TokenLimits {
  /** Reserves the estimate; throws RateLimitError when a limit would be passed. */
  reserve(
    identity: KeyIdentity,
    policy: EffectivePolicy,
    estimate: number,
  ): Promise<TokenReservation>;
  /** The tightest token window without reserving (for answers that cost no tokens). */
  peek(identity: KeyIdentity, policy: EffectivePolicy): Promise<LimitWindow | undefined>;
}

/** Builds the token limits on the shared counters. */
export function createTokenLimits(counters: LimitCounters): TokenLimits {
  return {
    async reserve(identity, policy, estimate) {
      const reserved = Math.max(1, Math.ceil(estimate));
      let taken: Taken[] | undefined;
      try {
        taken = await counters.take(countersFor("tok", identity, policy), reserved);
      } catch (err) {
        throw limitError(err, "tokens");
      }

      let settled = false;
      return {
        reserved,
        window: taken && tightest(taken.map((t) => t.window)),
        async settle(actualTokens) {
          if (settled || !taken) return;
          settled = true;

          const difference = Math.round(actualTokens) - reserved;
          await Promise.all(
            taken.map((t) =>
              difference > 0
                ? counters.charge(t.counter, difference)
                : counters.refund(t, -difference),
            ),
          );
        },
      };
    },

    async peek(identity, policy) {
      const windows = await counters.peek(countersFor("tok", identity, policy));
      return windows && tightest(windows);
    },
  };
}

// Roughly four characters of English text per token; JSON and code run a little denser.
const CHARS_PER_TOKEN = 4;
const TOKENS_PER_MESSAGE = 4;
// Anthropic bills an image by its size; this is about a 1,000 by 1,000 pixel image.
const TOKENS_PER_IMAGE = 1_600;

/**
 * Tokens a request may use at most: an estimate of its prompt plus its output limit (or the
 * default output limit when it sets none).
 */
export function estimateTokens(params: ChatParams, defaultMaxTokens: number): number {
  let chars = 0;
  let extra = 0;
  for (const block of params.system) chars += block.text.length;
  for (const tool of params.tools) {
    chars += tool.name.length + tool.description.length + tool.inputSchemaJson.length;
  }
  for (const message of params.messages) {
    extra += TOKENS_PER_MESSAGE;
    for (const { block } of message.content) {
      switch (block.case) {
        case "text":
          chars += block.value.text.length;
          break;
        case "toolUse":
          chars += block.value.name.length + block.value.inputJson.length;
          break;
        case "toolResult":
          for (const t of block.value.content) chars += t.text.length;
          break;
        case "image":
          extra += TOKENS_PER_IMAGE;
          break;
      }
    }
  }
  const prompt = Math.ceil(chars / CHARS_PER_TOKEN) + extra;
  return prompt + (params.maxTokens || defaultMaxTokens);
}

/** Tokens a request really used: every input class and the output. */
export function usedTokens(usage: Usage | undefined): number {
  if (!usage) return 0;
  return usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens + usage.outputTokens;
}
