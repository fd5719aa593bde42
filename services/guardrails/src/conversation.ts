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

  // A message is copied once, with all its new texts; messages in the order of first edit.
  const edits = new Map<number, [TextLocation, string][]>();
  for (const [index, text] of rewrites) {
    const { location } = segments[index] as Segment;
    if (location.part === "system") {
      const block = outSystem[location.blockIndex] as TextBlock;
      const source = isWellFormed(block.text) ? { ...block, text: "" } : block;
      const copy = clone(TextBlockSchema, source);
      copy.text = text;
      outSystem[location.blockIndex] = copy;
      continue;
    }

    const list = edits.get(location.messageIndex) ?? [];
    list.push([location, text]);
    edits.set(location.messageIndex, list);
  }

  for (const [messageIndex, list] of edits) {
    outMessages[messageIndex] = copyWithTexts(outMessages[messageIndex] as Message, list);
  }
  return { system: outSystem, messages: outMessages };
}

/**
 * A deep copy of a message with new texts at some of its blocks. The texts to be replaced
 * are blanked in a shallow copy before cloning: clone() checks every string it copies, for a
 * long text a check that costs more than the rest of the copy, and they are overwritten. A
 * text that check would reject takes the plain path, so clone() still throws as it did.
 */
function copyWithTexts(message: Message, edits: readonly [TextLocation, string][]): Message {
  const plain = edits.some(([location]) => {
    const block = message.content[location.blockIndex];
    return block !== undefined && !isWellFormed(blockText(block, location));
  });
  let source = message;
  if (!plain) {
    const content = [...message.content];
    for (const [location] of edits) {
      const block = content[location.blockIndex];
      if (block) content[location.blockIndex] = withBlankText(block, location);
    }
    source = { ...message, content };
  }

  const copy = clone(MessageSchema, source);
  for (const [location, text] of edits) {
    setBlockText(copy.content[location.blockIndex] as ContentBlock, location, text);
  }
  return copy;
}

/** A copy of a block with "" at the text of `location`, sharing everything else. */
function withBlankText(block: ContentBlock, location: TextLocation): ContentBlock {
  const { block: value } = block;
  switch (value.case) {
    case "text":
      return { ...block, block: { case: "text", value: { ...value.value, text: "" } } };
    case "toolUse":
      return { ...block, block: { case: "toolUse", value: { ...value.value, inputJson: "" } } };
    case "toolResult": {
      const content = [...value.value.content];
      const inner = content[location.innerIndex];
      if (inner) content[location.innerIndex] = { ...inner, text: "" };
      return { ...block, block: { case: "toolResult", value: { ...value.value, content } } };
    }
    default:
      return block;
  }
}

function blockText(block: ContentBlock, location: TextLocation): string {
  switch (block.block.case) {
    case "text":
      return block.block.value.text;
    case "toolUse":
      return block.block.value.inputJson;
    case "toolResult":
      return block.block.value.content[location.innerIndex]?.text ?? "";
    default:
      return "";
  }
}

// No lone surrogates: what clone() checks of a string (String.prototype.isWellFormed, which
// the ES2023 lib this package compiles against does not declare).
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
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
