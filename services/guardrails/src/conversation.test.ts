import { create, equals, toJson } from "@bufbuild/protobuf";
import {
  ContentBlockSchema,
  MessageSchema,
  Role,
  TextBlockSchema,
  type ContentBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import { describe, expect, it } from "vitest";
import { inputSegments, rewriteInput } from "./conversation.js";

const text = (value: string): ContentBlock =>
  create(ContentBlockSchema, { block: { case: "text", value: { text: value } } });

function conversation() {
  const system = [create(TextBlockSchema, { text: "system about Ana", cacheControl: true })];
  const touched = create(MessageSchema, {
    role: Role.USER,
    content: [
      text("call Ana"),
      create(ContentBlockSchema, {
        block: { case: "toolUse", value: { id: "t1", name: "lookup", inputJson: '{"n":"Ana"}' } },
      }),
      create(ContentBlockSchema, {
        block: {
          case: "toolResult",
          value: { toolUseId: "t1", isError: true, content: [{ text: "kept" }, { text: "Ana" }] },
        },
      }),
      create(ContentBlockSchema, {
        block: {
          case: "image",
          value: { mediaType: "image/png", source: { case: "url", value: "u" } },
        },
      }),
    ],
  });
  const untouched = create(MessageSchema, { role: Role.ASSISTANT, content: [text("hello")] });
  return { system, messages: [touched, untouched] };
}

describe("rewriteInput", () => {
  it("puts new texts into copies and leaves the input and untouched messages as they were", () => {
    const input = conversation();
    const before = input.messages.map((m) => toJson(MessageSchema, m));
    const segments = inputSegments(input.system, input.messages);
    const rewrites = new Map([
      [0, "system about <PERSON_1>"],
      [1, "call <PERSON_1>"],
      [2, '{"n":"<PERSON_1>"}'],
      [4, "<PERSON_1>"],
    ]);

    const out = rewriteInput(input.system, input.messages, segments, rewrites);

    expect(toJson(TextBlockSchema, out.system[0]!)).toEqual({
      text: "system about <PERSON_1>",
      cacheControl: true,
    });
    expect(toJson(MessageSchema, out.messages[0]!)).toEqual({
      role: "ROLE_USER",
      content: [
        { text: { text: "call <PERSON_1>" } },
        { toolUse: { id: "t1", name: "lookup", inputJson: '{"n":"<PERSON_1>"}' } },
        {
          toolResult: {
            toolUseId: "t1",
            content: [{ text: "kept" }, { text: "<PERSON_1>" }],
            isError: true,
          },
        },
        { image: { mediaType: "image/png", url: "u" } },
      ],
    });
    expect(input.messages.map((m) => toJson(MessageSchema, m))).toEqual(before);
    expect(out.messages[1]).toBe(input.messages[1]);
    expect(out.messages[0]!.content[3]).not.toBe(input.messages[0]!.content[3]);
    expect(equals(ContentBlockSchema, out.messages[0]!.content[3]!, input.messages[0]!.content[3]!))
      .toBe(true);
  });

  it("rejects a text with a lone surrogate as clone() does", () => {
    const messages = [create(MessageSchema, { content: [text("Ana \ud800")] })];
    const segments = inputSegments([], messages);

    expect(() => rewriteInput([], messages, segments, new Map([[0, "<PERSON_1>"]]))).toThrow(
      "invalid UTF8",
    );
  });
});
