import { describe, expect, it } from "vitest";
import type { Segment } from "../conversation.js";
import { DEFAULT_POLICY } from "../policy.js";
import { GuardrailAction } from "../verdict.js";
import { checkSchema, readResponseFormat } from "./schema.js";

const location = { part: "content", messageIndex: 0, blockIndex: 0, innerIndex: 0 } as const;
const answer = (text: string): Segment[] => [{ location, text, kind: "text" }];

const PERSON_SCHEMA = JSON.stringify({
  type: "json_schema",
  json_schema: {
    name: "person",
    schema: {
      type: "object",
      required: ["name", "age"],
      properties: {
        name: { type: "string" },
        age: { type: "integer", minimum: 0 },
        email: { type: "string", format: "email" },
      },
      additionalProperties: false,
    },
  },
});

describe("checkSchema", () => {
  it("passes an answer that matches, fenced or not", () => {
    const plain = checkSchema(
      answer('{"name":"Ada","age":36}'),
      PERSON_SCHEMA,
      "output",
      DEFAULT_POLICY,
    );
    const fenced = checkSchema(
      answer('```json\n{"name":"Ada","age":36}\n```'),
      PERSON_SCHEMA,
      "output",
      DEFAULT_POLICY,
    );

    expect([plain?.passed, plain?.reason, fenced?.passed]).toEqual([
      true,
      "the answer matches the schema",
      true,
    ]);
  });

  it("flags each broken rule by path, without the answer's values", () => {
    const verdict = checkSchema(
      answer('{"name":"Ada","age":-1,"email":"secret-not-an-email","x":1}'),
      PERSON_SCHEMA,
      "output",
      DEFAULT_POLICY,
    );

    expect([verdict?.check, verdict?.passed, verdict?.action, verdict?.category]).toEqual([
      "schema",
      false,
      GuardrailAction.FLAG,
      "schema_violation",
    ]);
    expect(verdict?.reason).toBe(
      "the answer does not match the schema: / must NOT have additional properties; " +
        '/age must be >= 0; /email must match format "email"',
    );
  });

  it("blocks invalid JSON when the policy says block", () => {
    const policy = { ...DEFAULT_POLICY, schema: { action: "block" as const } };

    const verdict = checkSchema(
      answer("Sure! Here it is: {name: Ada}"),
      PERSON_SCHEMA,
      "output",
      policy,
    );

    expect([verdict?.action, verdict?.category, verdict?.reason]).toEqual([
      GuardrailAction.BLOCK,
      "invalid_json",
      "the answer is not valid JSON",
    ]);
  });

  it("reads the common response format shapes", () => {
    expect(readResponseFormat("")).toEqual({ kind: "none" });
    expect(readResponseFormat('{"type":"text"}')).toEqual({ kind: "none" });
    expect(readResponseFormat('{"type":"json_object"}')).toEqual({ kind: "json" });
    expect(readResponseFormat('{"type":"json_schema","schema":{"type":"array"}}')).toEqual({
      kind: "schema",
      schemaJson: '{"type":"array"}',
    });
    expect(readResponseFormat('{"type":"object"}')).toEqual({
      kind: "schema",
      schemaJson: '{"type":"object"}',
    });
    expect(readResponseFormat("{oops")).toEqual({
      kind: "invalid",
      reason: "response_format_json is not valid JSON",
    });
  });

  it("says so when the schema itself is broken", () => {
    const verdict = checkSchema(answer("{}"), '{"type":"objekt"}', "output", DEFAULT_POLICY);

    expect(verdict?.category).toBe("invalid_schema");
    expect(verdict?.reason).toMatch(/^response_format_json holds no valid JSON schema: /);
  });
});
