import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  ChatEventSchema,
  ContentBlockSchema,
  type ChatEvent,
  type ChatResult,
  type ContentBlock,
} from "@mesh/contracts/common/v1/chat_pb";

const STREAM_REPLAY_CHUNK = 48;

/** Replays a finished answer (a cache hit) in the shape of a live stream. */
export function* replay(result: ChatResult): Generator<ChatEvent> {
  yield chatEvent({
    case: "start",
    value: {
      requestId: result.requestId,
      model: result.model,
      provider: result.provider,
      usage: result.usage,
      routing: result.routing,
    },
  });

  let index = 0;
  for (const block of result.content) {
    if (block.block.case === "text") {
      const text = block.block.value.text;
      let at = 0;
      while (at < text.length) {
        const piece = sliceWhole(text, at, STREAM_REPLAY_CHUNK);
        at += piece.length;
        yield chatEvent({ case: "textDelta", value: { index, text: piece } });
      }
    } else if (block.block.case === "toolUse") {
      yield chatEvent({ case: "toolUse", value: block.block.value });
    }
    index++;
  }

  yield chatEvent({ case: "done", value: { ...result, content: [] } });
}

/** A stream event from its oneof case and value. */
export function chatEvent(value: MessageInitShape<typeof ChatEventSchema>["event"]): ChatEvent {
  return create(ChatEventSchema, { event: value });
}

/** A text content block. */
export function textBlock(text: string): ContentBlock {
  return create(ContentBlockSchema, { block: { case: "text", value: { text } } });
}

/** A slice that never ends between the two halves of a surrogate pair. */
function sliceWhole(text: string, start: number, length: number): string {
  let end = Math.min(text.length, start + length);
  const last = text.charCodeAt(end - 1);
  if (end < text.length && last >= 0xd800 && last <= 0xdbff) end++;
  return text.slice(start, end);
}
