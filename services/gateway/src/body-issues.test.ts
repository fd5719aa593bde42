import { describe, expect, it } from "vitest";
import { parseMessagesRequest } from "./anthropic-format.js";
import { parseChatCompletionRequest } from "./openai-format.js";

function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    return (err as Error).message;
  }
  return "taken";
}

const messages = (content: unknown) => ({
  model: "claude-sonnet-4",
  max_tokens: 5,
  messages: [{ role: "user", content }],
});

describe("what a refused body is told", () => {
  it("names the shape a value came closest to, not a bare Invalid input", () => {
    expect(refusal(() => parseMessagesRequest(messages([{ type: "document" }])))).toBe(
      "messages.0.content.0.type: Invalid discriminator value. " +
        "Expected 'text' | 'image' | 'tool_use' | 'tool_result'",
    );
    expect(refusal(() => parseMessagesRequest(
      messages([{ type: "tool_use", id: "a", name: "b", input: "x" }]),
    ))).toBe("messages.0.content.0.input: Invalid input: expected record, received string");
    expect(refusal(() => parseMessagesRequest(messages(5)))).toBe(
      "messages.0.content: expected string or array",
    );
  });

  it("does the same for the OpenAI API, limits included", () => {
    const chat = (extra: object) => ({
      model: "claude-sonnet-4",
      messages: [{ role: "user", content: "x" }],
      ...extra,
    });

    expect(refusal(() => parseChatCompletionRequest(chat({ stop: ["a", "b", "c", "d", "e"] }))))
      .toBe("stop: at most 4 stop sequences");
    expect(refusal(() => parseChatCompletionRequest({
      model: "claude-sonnet-4",
      messages: [{ role: "user", content: [{ type: "input_audio" }] }],
    }))).toBe(
      "messages.0.content.0.type: Invalid discriminator value. Expected 'text' | 'image_url'",
    );
  });
});
