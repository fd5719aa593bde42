import { Role, type ChatParams } from "@mesh/contracts/common/v1/chat_pb";
import { invalidRequest } from "./errors.js";

/**
 * Rejects requests no model could answer, before any check or model call is spent on them.
 * Messages name the offending field the way the caller wrote it (messages.N.content).
 */
export function validateChatParams(
  params: ChatParams | undefined,
  maxMessages = Number.POSITIVE_INFINITY,
): ChatParams {
  if (!params) throw invalidRequest("params: required");
  if (params.messages.length === 0) {
    throw invalidRequest("messages: at least one message is required");
  }
  if (params.messages.length > maxMessages) {
    throw invalidRequest(
      `messages: ${params.messages.length} messages is more than the limit of ${maxMessages}; ` +
        "shorten the conversation",
    );
  }

  params.messages.forEach((message, i) => {
    if (message.role !== Role.USER && message.role !== Role.ASSISTANT) {
      throw invalidRequest(`messages.${i}.role: must be "user" or "assistant"`);
    }
    if (message.content.length === 0) {
      throw invalidRequest(`messages.${i}.content: at least one content block is required`);
    }
    message.content.forEach((block, j) => {
      if (block.block.case === undefined) {
        throw invalidRequest(`messages.${i}.content.${j}: empty content block`);
      }
      if (block.block.case === "text" && block.block.value.text.length === 0) {
        throw invalidRequest(`messages.${i}.content.${j}.text: text blocks must be non-empty`);
      }
    });
  });

  checkMetadata(params.metadata);

  const { temperature, topP } = params;
  if (temperature !== undefined && !(temperature >= 0 && temperature <= 1)) {
    throw invalidRequest(`temperature: ${temperature} is outside 0 to 1`);
  }
  if (topP !== undefined && !(topP >= 0 && topP <= 1)) {
    throw invalidRequest(`top_p: ${topP} is outside 0 to 1`);
  }
  return params;
}

// The limits of the providers' own APIs. The user id lands on every ledger row, which must
// never be refused later for its size: a refused row is a request nobody is billed for.
const MAX_METADATA_ENTRIES = 16;
const MAX_METADATA_KEY = 64;
const MAX_METADATA_VALUE = 512;
const MAX_USER_ID = 256;

function checkMetadata(metadata: Record<string, string>): void {
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_ENTRIES) {
    throw invalidRequest(
      `metadata: ${entries.length} entries is more than the limit of ${MAX_METADATA_ENTRIES}`,
    );
  }
  for (const [key, value] of entries) {
    const limit = key === "user_id" ? MAX_USER_ID : MAX_METADATA_VALUE;
    if (key.length > MAX_METADATA_KEY) {
      throw invalidRequest(`metadata: a key of ${key.length} characters is more than the ` +
        `limit of ${MAX_METADATA_KEY}`);
    }
    if (value.length > limit || value.includes("\u0000")) {
      throw invalidRequest(`metadata.${key}: at most ${limit} characters, without NUL`);
    }
  }
}
