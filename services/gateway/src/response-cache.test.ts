import { create } from "@bufbuild/protobuf";
import { ChatParamsSchema } from "@mesh/contracts/common/v1/chat_pb";
import { describe, expect, it } from "vitest";
import { parseMessagesRequest, toChatParams } from "./anthropic-format.js";
import { cacheKey, isCacheable } from "./response-cache.js";

const params = (body: Record<string, unknown>) => toChatParams(parseMessagesRequest(body), {});

describe("cacheKey", () => {
  it("ignores the order of fields in the caller's JSON", () => {
    const a = params({ model: "m", max_tokens: 9, temperature: 0, messages: [{ role: "user", content: "hi" }] });
    const b = params({ messages: [{ content: "hi", role: "user" }], temperature: 0, max_tokens: 9, model: "m" });

    expect(cacheKey("acme", a)).toBe(cacheKey("acme", b));
  });

  it("differs by tenant and by any field that changes the answer", () => {
    const base = { model: "m", max_tokens: 9, temperature: 0, messages: [{ role: "user", content: "hi" }] };
    const key = cacheKey("acme", params(base));

    expect(cacheKey("other", params(base))).not.toBe(key);
    expect(cacheKey("acme", params({ ...base, max_tokens: 10 }))).not.toBe(key);
    expect(cacheKey("acme", params({ ...base, stop_sequences: ["x"] }))).not.toBe(key);
    expect(cacheKey("acme", params({ ...base, system: "be brief" }))).not.toBe(key);
    expect(cacheKey("acme", params({ ...base, metadata: { user_id: "u1" } }))).toBe(key);
  });

  it("caches only deterministic requests", () => {
    expect(isCacheable(create(ChatParamsSchema, { temperature: 0 }))).toBe(true);
    expect(isCacheable(create(ChatParamsSchema, { temperature: 0.7 }))).toBe(false);
    expect(isCacheable(create(ChatParamsSchema, {}))).toBe(false);
  });
});
