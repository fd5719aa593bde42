import { create } from "@bufbuild/protobuf";
import {
  ChatResultSchema,
  UsageSchema,
  type ChatResult,
  type StreamStart,
  type ToolUseBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import { costNanos, OutputTokenEstimate, pricesFromMessage, usdFromNanos } from "@mesh/money";

/**
 * What the orchestrator has streamed so far, so that a stream the gateway cuts short (a
 * guardrail stopped it, the caller hung up) is billed for the tokens produced before the cut:
 * the input usage from the start event, the output estimated from the text received, priced
 * at the chosen model's prices from the start event.
 */
export class StreamTally {
  private start: StreamStart | undefined;
  private readonly output = new OutputTokenEstimate();
  private tools = 0;

  opened(start: StreamStart): void {
    this.start = start;
  }

  text(index: number, piece: string): void {
    this.output.add(index, piece);
  }

  toolUse(block: ToolUseBlock): void {
    // Tool calls arrive whole and without a block index; each counts as a block of its own.
    this.tools += 1;
    this.output.add(-this.tools, block.name + block.inputJson);
  }

  /** The result so far; undefined before the stream opened (nothing was produced). */
  partial(): ChatResult | undefined {
    const start = this.start;
    if (!start) return undefined;

    const reported = start.usage ?? create(UsageSchema);
    const usage = create(UsageSchema, {
      inputTokens: reported.inputTokens,
      outputTokens: Math.max(reported.outputTokens, this.output.total()),
      cacheReadTokens: reported.cacheReadTokens,
      cacheWriteTokens: reported.cacheWriteTokens,
    });
    const prices = pricesFromMessage(start.prices);
    return create(ChatResultSchema, {
      requestId: start.requestId,
      model: start.model,
      provider: start.provider,
      routing: start.routing,
      usage,
      cost: usdFromNanos(prices ? costNanos(usage, prices) : 0n),
      prices: start.prices,
    });
  }
}
