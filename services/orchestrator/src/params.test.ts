import { Role } from "@mesh/contracts/common/v1/chat_pb";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import { estimatePromptTokens, textTokens, validateParams } from "./params.js";
import { chatParams } from "./testkit.js";

function messageOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    return (err as RpcError).message;
  }
  throw new Error("expected INVALID_ARGUMENT");
}

describe("validateParams", () => {
  it("accepts a plain request", () => {
    expect(() => validateParams(chatParams("hi", { temperature: 0, topP: 1 }))).not.toThrow();
  });

  it("rejects an empty message list", () => {
    expect(messageOf(() => validateParams(chatParams("x", { messages: [] })))).toBe(
      "params.messages is empty; send at least one message",
    );
  });

  it("rejects a message with no content", () => {
    const params = chatParams("x", { messages: [{ role: Role.USER, content: [] }] });

    expect(messageOf(() => validateParams(params))).toBe(
      "params.messages[0] has no content; give it at least one content block",
    );
  });

  it("rejects a temperature outside 0..1", () => {
    expect(messageOf(() => validateParams(chatParams("x", { temperature: 1.5 })))).toBe(
      "params.temperature 1.5 is out of range; use a value from 0 to 1",
    );
  });

  it("rejects a tool whose schema is not a JSON object", () => {
    const params = chatParams("x", { tools: [{ name: "t", inputSchemaJson: "[1]" }] });

    expect(messageOf(() => validateParams(params))).toBe(
      "params.tools[0].input_schema_json must be a JSON object (a JSON Schema)",
    );
  });
});

describe("token rule", () => {
  it("counts one token per 4 UTF-8 bytes, rounded up", () => {
    expect(textTokens("")).toBe(0);
    expect(textTokens("abcd")).toBe(1);
    expect(textTokens("abcde")).toBe(2);
    // "é" is 2 bytes, "€" is 3: 5 bytes → 2 tokens.
    expect(textTokens("é€")).toBe(2);
  });

  it("adds system, messages and tools", () => {
    const params = chatParams("12345678", {
      system: [{ text: "abcd" }],
      tools: [{ name: "calc", description: "", inputSchemaJson: "{}" }],
    });

    expect(estimatePromptTokens(params)).toBe(1 + 2 + 1 + 0 + 1);
  });
});
