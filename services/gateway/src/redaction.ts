import { createHmac } from "node:crypto";
import type { ChatParams, ContentBlock } from "@mesh/contracts/common/v1/chat_pb";

/** What logs say about a text instead of the text: its length and a short keyed digest. */
export interface TextDigest {
  chars: number;
  hmac: string;
}

/**
 * Length and the first 12 hex digits of HMAC-SHA-256 under `key`, enough to match two log
 * lines. Keyed, because a plain hash of a short prompt ("yes", a PIN, a name) is found again
 * by hashing guesses; only those holding the key can.
 */
export function digestText(parts: readonly string[], key: Uint8Array): TextDigest {
  const hmac = createHmac("sha256", key);
  let chars = 0;
  for (const part of parts) {
    hmac.update(part);
    hmac.update("\u0000");
    chars += part.length;
  }
  return { chars, hmac: hmac.digest("hex").slice(0, 12) };
}

/** Every text of a request: system blocks, message text, tool calls and results. */
export function promptTexts(params: ChatParams | undefined): string[] {
  if (!params) return [];
  const texts = params.system.map((b) => b.text);
  for (const message of params.messages) texts.push(...blockTexts(message.content));
  return texts;
}

/** Every text of an answer's content. */
export function blockTexts(content: readonly ContentBlock[]): string[] {
  const texts: string[] = [];
  for (const { block } of content) {
    if (block.case === "text") texts.push(block.value.text);
    else if (block.case === "toolUse") texts.push(block.value.inputJson);
    else if (block.case === "toolResult") texts.push(...block.value.content.map((t) => t.text));
  }
  return texts;
}
