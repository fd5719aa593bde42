import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { Segment } from "../conversation.js";
import type { GuardrailPolicy } from "../policy.js";
import { cleanVerdict, toGuardrailAction, type Stage, type Verdict } from "../verdict.js";

// ajv-formats is CommonJS; under ESM its function sits on `default`.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

// One compiler for the process; compiled schemas are cached by their JSON text.
const ajv = addFormats(new Ajv({ allErrors: true, strict: false, validateSchema: true }));
const compiled = new Map<string, ValidateFunction | string>();
const MAX_CACHED = 256;
const MAX_ERRORS_LISTED = 3;

/** What a response format asks of the answer. */
type Expectation =
  | { kind: "none" }
  | { kind: "json" }
  | { kind: "schema"; schemaJson: string }
  | { kind: "invalid"; reason: string };

/**
 * Reads ChatParams.response_format_json: {"type":"json_schema","json_schema":{"schema":…}}
 * (OpenAI style), {"type":"json_schema","schema":…}, {"type":"json_object"}, or a bare JSON
 * schema. {"type":"text"} and an empty string ask for nothing.
 */
export function readResponseFormat(responseFormatJson: string): Expectation {
  if (responseFormatJson.trim() === "") return { kind: "none" };

  let format: unknown;
  try {
    format = JSON.parse(responseFormatJson);
  } catch {
    return { kind: "invalid", reason: "response_format_json is not valid JSON" };
  }
  if (typeof format !== "object" || format === null || Array.isArray(format)) {
    return { kind: "invalid", reason: "response_format_json must be a JSON object" };
  }

  const f = format as Record<string, unknown>;
  if (f.type === "text") return { kind: "none" };
  if (f.type === "json_object") return { kind: "json" };
  if (f.type === "json_schema") {
    const nested = (f.json_schema as Record<string, unknown> | undefined)?.schema ?? f.schema;
    if (typeof nested !== "object" || nested === null) {
      return { kind: "invalid", reason: "response_format_json of type json_schema has no schema" };
    }
    return { kind: "schema", schemaJson: JSON.stringify(nested) };
  }
  return { kind: "schema", schemaJson: JSON.stringify(f) };
}

/**
 * Validates the answer's text blocks, joined, against the request's JSON schema with ajv 8
 * (formats included). A single ```json fence around the answer is allowed. Returns no
 * verdict when no structured output was asked for. Reasons name failing paths and rules,
 * never the answer's values.
 */
export function checkSchema(
  segments: readonly Segment[],
  responseFormatJson: string,
  stage: Stage,
  policy: GuardrailPolicy,
): Verdict | undefined {
  const expectation = readResponseFormat(responseFormatJson);
  if (expectation.kind === "none") return undefined;
  if (expectation.kind === "invalid") {
    return failed("invalid_schema", expectation.reason, stage, policy);
  }

  const text = unfence(
    segments.filter((s) => s.kind === "text").map((s) => s.text).join(""),
  );
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return failed("invalid_json", "the answer is not valid JSON", stage, policy);
  }

  if (expectation.kind === "json") {
    if (typeof answer === "object" && answer !== null && !Array.isArray(answer)) {
      return cleanVerdict("schema", stage, "the answer is a JSON object");
    }
    return failed("schema_violation", "the answer is JSON but not an object", stage, policy);
  }

  const validate = validatorFor(expectation.schemaJson);
  if (typeof validate === "string") return failed("invalid_schema", validate, stage, policy);
  if (validate(answer)) return cleanVerdict("schema", stage, "the answer matches the schema");

  const errors = validate.errors ?? [];
  const listed = errors
    .slice(0, MAX_ERRORS_LISTED)
    .map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`)
    .join("; ");
  const hidden = errors.length - MAX_ERRORS_LISTED;
  const more = hidden > 0 ? ` (+${hidden} more)` : "";
  const reason = `the answer does not match the schema: ${listed}${more}`;
  return failed("schema_violation", reason, stage, policy);
}

function validatorFor(schemaJson: string): ValidateFunction | string {
  const cached = compiled.get(schemaJson);
  if (cached !== undefined) return cached;

  let result: ValidateFunction | string;
  try {
    result = ajv.compile(JSON.parse(schemaJson) as object);
  } catch (err) {
    result = `response_format_json holds no valid JSON schema: ${(err as Error).message}`;
  }
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(schemaJson, result);
  return result;
}

// Models often wrap JSON in a Markdown fence even when asked not to.
function unfence(text: string): string {
  const m = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(text);
  return m ? (m[1] as string) : text;
}

function failed(category: string, reason: string, stage: Stage, policy: GuardrailPolicy): Verdict {
  return {
    check: "schema",
    passed: false,
    action: toGuardrailAction(policy.schema.action),
    category,
    score: 1,
    spans: [],
    reason,
    stage,
  };
}
