import { clone } from "@bufbuild/protobuf";
import {
  ContentBlockSchema,
  MessageSchema,
  TextBlockSchema,
  type ContentBlock,
  type Message,
  type TextBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import type { TextLocation } from "./verdict.js";

/** One piece of checkable text and where it came from. */
export interface Segment {
  location: TextLocation;
  text: string;
  /** Which kind of block the text came from; tool_use text is the arguments' JSON. */
  kind: "text" | "tool_result" | "tool_use";
}

/** A segment's new text, by the segment's position in the list the segments came from. */
export type Rewrites = ReadonlyMap<number, string>;

/**
 * Lists every text of an input conversation in order: system blocks, then each message's text
 * blocks, tool_use arguments and tool_result texts, for every role. Images carry no text.
 */
export function inputSegments(
  system: readonly TextBlock[],
  messages: readonly Message[],
): Segment[] {
  const segments: Segment[] = [];
  system.forEach((block, blockIndex) => {
    segments.push({
      location: { part: "system", messageIndex: 0, blockIndex, innerIndex: 0 },
      text: block.text,
      kind: "text",
    });
  });

  messages.forEach((message, messageIndex) => {
    message.content.forEach((block, blockIndex) => {
      segments.push(...blockSegments(block, "message", messageIndex, blockIndex));
    });
  });
  return segments;
}

/** Lists every text of a model's answer: text blocks and tool_use arguments. */
export function outputSegments(content: readonly ContentBlock[]): Segment[] {
  return content.flatMap((block, blockIndex) => blockSegments(block, "content", 0, blockIndex));
}

/** Counts blocks that hold no checkable text (images), so a caller can say they were skipped. */
export function uncheckedBlocks(blocks: readonly ContentBlock[]): number {
  return blocks.filter((block) => block.block.case === "image").length;
}

function blockSegments(
  block: ContentBlock,
  part: "message" | "content",
  messageIndex: number,
  blockIndex: number,
): Segment[] {
  const at = (innerIndex: number): TextLocation => ({ part, messageIndex, blockIndex, innerIndex });
  switch (block.block.case) {
    case "text":
      return [{ location: at(0), text: block.block.value.text, kind: "text" }];
    case "toolUse":
      return [{ location: at(0), text: block.block.value.inputJson, kind: "tool_use" }];
    case "toolResult":
      return block.block.value.content.map((inner, innerIndex) => ({
        location: at(innerIndex),
        text: inner.text,
        kind: "tool_result" as const,
      }));
    default:
      return [];
  }
}

/**
 * Returns the conversation with rewritten texts put back. Untouched blocks and messages are
 * shared with the input; touched ones are copies, so the request message is never mutated.
 */
export function rewriteInput(
  system: readonly TextBlock[],
  messages: readonly Message[],
  segments: readonly Segment[],
  rewrites: Rewrites,
): { system: TextBlock[]; messages: Message[] } {
  const outSystem = [...system];
  const outMessages = [...messages];
  if (rewrites.size === 0) return { system: outSystem, messages: outMessages };

  const copied = new Set<Message>();
  for (const [index, text] of rewrites) {
    const { location } = segments[index] as Segment;
    if (location.part === "system") {
      const block = clone(TextBlockSchema, outSystem[location.blockIndex] as TextBlock);
      block.text = text;
      outSystem[location.blockIndex] = block;
      continue;
    }

    let message = outMessages[location.messageIndex] as Message;
    if (!copied.has(message)) {
      message = clone(MessageSchema, message);
      copied.add(message);
      outMessages[location.messageIndex] = message;
    }
    setBlockText(message.content[location.blockIndex] as ContentBlock, location, text);
  }
  return { system: outSystem, messages: outMessages };
}

/** Returns an answer's content with rewritten texts put back; the input is not mutated. */
export function rewriteOutput(
  content: readonly ContentBlock[],
  segments: readonly Segment[],
  rewrites: Rewrites,
): ContentBlock[] {
  const out = [...content];
  for (const [index, text] of rewrites) {
    const { location } = segments[index] as Segment;
    const block = clone(ContentBlockSchema, out[location.blockIndex] as ContentBlock);
    setBlockText(block, location, text);
    out[location.blockIndex] = block;
  }
  return out;
}

function setBlockText(block: ContentBlock, location: TextLocation, text: string): void {
  switch (block.block.case) {
    case "text":
      block.block.value.text = text;
      return;
    case "toolUse":
      block.block.value.inputJson = text;
      return;
    case "toolResult": {
      const inner = block.block.value.content[location.innerIndex];
      if (inner) inner.text = text;
      return;
    }
    default:
      return;
  }
}
