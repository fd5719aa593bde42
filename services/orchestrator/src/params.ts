import {
  Role,
  type ChatParams,
  type ContentBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import { GrpcStatus, RpcError } from "@mesh/rpc";

/** Tokens the mesh counts for an image before a provider reports the real figure. */
export const IMAGE_TOKEN_ESTIMATE = 1_600;

/**
 * The mesh's token rule: one token per 4 bytes of UTF-8, rounded up. Used to estimate a
 * prompt before routing and by the simulator as its exact count.
 */
export function textTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, "utf8") / 4);
}

/**
 * Estimated prompt tokens: the textTokens of every system block, message text, tool call
 * (name + input JSON), tool result and tool definition (name + description + schema), plus
 * IMAGE_TOKEN_ESTIMATE per image. Deterministic, and on the high side for English.
 */
export function estimatePromptTokens(params: ChatParams): number {
  let total = 0;
  for (const block of params.system) total += textTokens(block.text);
  for (const message of params.messages) {
    for (const block of message.content) total += blockTokens(block);
  }
  for (const tool of params.tools) {
    total += textTokens(tool.name) + textTokens(tool.description) +
      textTokens(tool.inputSchemaJson);
  }
  return total;
}

function blockTokens(block: ContentBlock): number {
  switch (block.block.case) {
    case "text":
      return textTokens(block.block.value.text);
    case "toolUse":
      return textTokens(block.block.value.name) + textTokens(block.block.value.inputJson);
    case "toolResult":
      return block.block.value.content.reduce((n, t) => n + textTokens(t.text), 0);
    case "image":
      return IMAGE_TOKEN_ESTIMATE;
    default:
      return 0;
  }
}

/** What a request needs from a model beyond room for its tokens. */
export interface RequiredCapabilities {
  tools: boolean;
  images: boolean;
}

/** Capabilities the request uses: tools when it defines or carries tool blocks; images. */
export function requiredCapabilities(params: ChatParams): RequiredCapabilities {
  let images = false;
  let toolBlocks = false;
  for (const message of params.messages) {
    for (const block of message.content) {
      if (block.block.case === "image") images = true;
      if (block.block.case === "toolUse" || block.block.case === "toolResult") toolBlocks = true;
    }
  }
  return { tools: params.tools.length > 0 || toolBlocks, images };
}

/**
 * Checks what can be checked without a model: messages present and non-empty, blocks set,
 * JSON fields parse, sampling values in range. Throws INVALID_ARGUMENT naming the field.
 */
export function validateParams(params: ChatParams | undefined): asserts params is ChatParams {
  if (!params) invalid("params is required; send the chat request in params");
  if (params.messages.length === 0) {
    invalid("params.messages is empty; send at least one message");
  }

  params.messages.forEach((message, i) => {
    const where = `params.messages[${i}]`;
    if (message.role === Role.UNSPECIFIED) {
      invalid(`${where}.role is unset; use ROLE_USER or ROLE_ASSISTANT`);
    }
    if (message.content.length === 0) {
      invalid(`${where} has no content; give it at least one content block`);
    }
    message.content.forEach((block, j) => checkBlock(block, `${where}.content[${j}]`));
  });

  params.system.forEach((block, i) => {
    if (block.text === "") invalid(`params.system[${i}] is empty; remove it or give it text`);
  });
  params.tools.forEach((tool, i) => {
    if (tool.name === "") invalid(`params.tools[${i}].name is empty; name the tool`);
    if (!isJsonObject(tool.inputSchemaJson)) {
      invalid(`params.tools[${i}].input_schema_json must be a JSON object (a JSON Schema)`);
    }
  });

  checkUnitRange("temperature", params.temperature);
  checkUnitRange("top_p", params.topP);
}

function checkBlock(block: ContentBlock, where: string): void {
  switch (block.block.case) {
    case "text":
      if (block.block.value.text === "") invalid(`${where} is an empty text block; give it text`);
      return;
    case "toolUse": {
      const { id, name, inputJson } = block.block.value;
      if (id === "" || name === "") invalid(`${where}: a tool_use block needs an id and a name`);
      if (inputJson !== "" && !isJsonObject(inputJson)) {
        invalid(`${where}.input_json must be a JSON object`);
      }
      return;
    }
    case "toolResult":
      if (block.block.value.toolUseId === "") {
        invalid(`${where}: a tool_result block needs the tool_use_id it answers`);
      }
      return;
    case "image": {
      const { mediaType, source } = block.block.value;
      if (source.case === undefined) invalid(`${where}: an image needs data or a url`);
      if (source.case === "data" && !/^image\/(jpeg|png|gif|webp)$/.test(mediaType)) {
        invalid(`${where}.media_type "${mediaType}" is not one of image/jpeg, png, gif, webp`);
      }
      return;
    }
    default:
      invalid(`${where} is an empty content block; set text, tool_use, tool_result or image`);
  }
}

function checkUnitRange(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    invalid(`params.${name} ${value} is out of range; use a value from 0 to 1`);
  }
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function invalid(message: string): never {
  throw new RpcError(GrpcStatus.INVALID_ARGUMENT, message, "invalid_argument");
}
