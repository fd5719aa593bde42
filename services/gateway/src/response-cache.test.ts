import { create } from "@bufbuild/protobuf";
import { ChatParamsSchema, ChatResultSchema } from "@mesh/contracts/common/v1/chat_pb";
import { createLogger } from "@mesh/logging";
import { describe, expect, it } from "vitest";
import { parseMessagesRequest, toChatParams } from "./anthropic-format.js";
import { cacheDirectives } from "./cache-control.js";
import { parseChatCompletionRequest, toChatParams as openAiParams } from "./openai-format.js";
import { canonicalJson, cacheKey, createResponseCache, isCacheable } from "./response-cache.js";

const params = (body: Record<string, unknown>) => toChatParams(parseMessagesRequest(body), {});
const openai = (body: Record<string, unknown>) =>
  openAiParams(parseChatCompletionRequest(body), {});
const user = (content: string) => [{ role: "user", content }];

describe("cacheKey", () => {
  it("ignores the order of fields in the caller's JSON", () => {
    const a = params({ model: "m", max_tokens: 9, temperature: 0, messages: user("hi") });
    const b = params({ messages: [{ content: "hi", role: "user" }], temperature: 0, model: "m",
      max_tokens: 9 });

    expect(cacheKey("acme", a)).toBe(cacheKey("acme", b));
  });

  it("ignores key order inside tool schemas, tool choice, response format and tool input", () => {
    const body = (schema: object, format: object, input: object) => ({
      model: "m",
      temperature: 0,
      messages: [
        { role: "user", content: "x" },
        {
          role: "assistant",
          tool_calls: [{ id: "c", type: "function",
            function: { name: "f", arguments: JSON.stringify(input) } }],
        },
        { role: "tool", tool_call_id: "c", content: "ok" },
      ],
      tools: [{ type: "function", function: { name: "f", parameters: schema } }],
      response_format: format,
    });
    const a = openai(body(
      { type: "object", properties: { a: { type: "string" }, b: { type: "number" } } },
      { type: "json_schema", json_schema: { name: "s", strict: true } },
      { x: 1, y: [{ p: 1, q: 2 }] },
    ));
    const b = openai(body(
      { properties: { b: { type: "number" }, a: { type: "string" } }, type: "object" },
      { json_schema: { strict: true, name: "s" }, type: "json_schema" },
      { y: [{ q: 2, p: 1 }], x: 1 },
    ));

    expect(cacheKey("acme", a)).toBe(cacheKey("acme", b));
  });

  it("differs by tenant and by any field that changes the answer", () => {
    const base = { model: "m", max_tokens: 9, temperature: 0, messages: user("hi") };
    const key = cacheKey("acme", params(base));
    const tool = { name: "t", input_schema: { type: "object" } };

    const variants = [
      cacheKey("other", params(base)),
      cacheKey("acme", params({ ...base, max_tokens: 10 })),
      cacheKey("acme", params({ ...base, stop_sequences: ["x"] })),
      cacheKey("acme", params({ ...base, system: "be brief" })),
      cacheKey("acme", params({ ...base, system: [{ type: "text", text: "be brief" }, {
        type: "text", text: "and kind" }] })),
      cacheKey("acme", params({ ...base, tools: [tool] })),
      cacheKey("acme", params({ ...base, tools: [tool], tool_choice: { type: "any" } })),
      cacheKey("acme", params({ ...base, top_p: 0.5 })),
      cacheKey("acme", params({ ...base, top_k: 5 })),
      cacheKey("acme", params({ ...base, model: "n" })),
      cacheKey("acme", openai({ ...base, seed: 1 })),
      cacheKey("acme", openai({ ...base, response_format: { type: "json_object" } })),
    ];

    expect(new Set([key, ...variants]).size).toBe(variants.length + 1);
  });

  it("ignores metadata, the key id and prompt-cache markers", () => {
    const base = { model: "m", max_tokens: 9, temperature: 0, messages: user("hi") };
    const key = cacheKey("acme", params(base));
    const withKeyId = params(base);
    withKeyId.apiKeyId = "key_1";
    const marked = params({
      ...base,
      messages: [{ role: "user", content: [
        { type: "text", text: "hi", cache_control: { type: "ephemeral" } },
      ] }],
    });

    expect(cacheKey("acme", params({ ...base, metadata: { user_id: "u1" } }))).toBe(key);
    expect(cacheKey("acme", withKeyId)).toBe(key);
    expect(cacheKey("acme", marked)).toBe(key);
  });

  it("caches deterministic requests, and others only when the caller asks", () => {
    expect(isCacheable(create(ChatParamsSchema, { temperature: 0 }))).toBe(true);
    expect(isCacheable(create(ChatParamsSchema, { temperature: 0.7 }))).toBe(false);
    expect(isCacheable(create(ChatParamsSchema, { temperature: 0.7 }), true)).toBe(true);
    expect(isCacheable(create(ChatParamsSchema, {}))).toBe(false);
  });

  it("writes JSON with sorted keys and leaves text that is not JSON alone", () => {
    expect(canonicalJson('{"b":1,"a":{"d":[{"f":1,"e":2}],"c":null}}'))
      .toBe('{"a":{"c":null,"d":[{"e":2,"f":1}]},"b":1}');
    expect(canonicalJson("not json")).toBe("not json");
  });
});

describe("createResponseCache in memory", () => {
  it("returns an answer with its age, and none older than max-age", async () => {
    const cache = createResponseCache(undefined, 60, 10, createLogger("gateway-test", "silent"));
    const result = create(ChatResultSchema, { requestId: "req_1", model: "m" });
    await cache.set("k", result);
    await new Promise((r) => setTimeout(r, 30));

    const fresh = await cache.get("k");
    const bounded = await cache.get("k", 10);

    expect(fresh?.result.model).toBe("m");
    expect(fresh?.ageMs).toBeGreaterThanOrEqual(25);
    expect(bounded).toBeUndefined();
    expect(await cache.get("other")).toBeUndefined();
  });
});

describe("cacheDirectives", () => {
  const read = (headers: Record<string, string>) => cacheDirectives((name) => headers[name]);

  it("reads no-store, no-cache, max-age and the mesh's own switch", () => {
    expect(read({})).toEqual({ read: true, write: true, force: false });
    expect(read({ "cache-control": "no-store" })).toMatchObject({ read: false, write: false });
    expect(read({ "cache-control": "no-cache" })).toMatchObject({ read: false, write: true });
    expect(read({ "cache-control": "Max-Age=30, foo" })).toMatchObject({ maxAgeMs: 30_000 });
    expect(read({ "cache-control": "max-age=abc" }).maxAgeMs).toBeUndefined();
    expect(read({ "x-mesh-cache": "on" }).force).toBe(true);
    expect(read({ "x-mesh-cache": "off" })).toMatchObject({ read: false, write: false });
  });
});
