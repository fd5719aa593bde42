import { createLogger } from "@mesh/logging";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { registerHttpErrors } from "./http-errors.js";
import { jsonDepthOver, registerJsonBody } from "./json-body.js";

async function app() {
  const server = Fastify({ bodyLimit: 1_024 });
  registerHttpErrors(server, 1_024, createLogger("gateway-test", "silent"));
  await server.register(async (rest) => {
    registerJsonBody(rest, 4);
    rest.post("/v1/chat/completions", async (req) => ({ got: req.body }));
    rest.post("/v1/messages", async (req) => ({ got: req.body }));
  });
  return server;
}

describe("jsonDepthOver", () => {
  const depth = (text: string, max: number) => jsonDepthOver(Buffer.from(text), max);

  it("finds where nesting first passes the limit", () => {
    expect(depth("[[[]]]", 3)).toBeUndefined();
    expect(depth("[[[[]]]]", 3)).toBe(3);
    expect(depth('{"a":{"b":[1]}}', 2)).toBe(10);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    expect(depth('["[[[[", "\\"[[[[", "é[["]', 1)).toBeUndefined();
  });
});

describe("registerJsonBody", () => {
  const send = async (path: string, payload: string | Buffer, type = "application/json") => {
    const server = await app();
    const res = await server.inject({
      method: "POST",
      url: path,
      headers: { "content-type": type },
      payload,
    });
    await server.close();
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  };

  it("parses JSON within the limits", async () => {
    expect(await send("/v1/messages", '{"a":[[1]]}')).toEqual({
      status: 200,
      body: { got: { a: [[1]] } },
    });
  });

  it("refuses deep, non-UTF-8, non-JSON and big bodies in the API's JSON", async () => {
    const deep = await send("/v1/chat/completions", "[[[[[1]]]]]");
    const utf8 = await send("/v1/messages", Buffer.from([0x22, 0xff, 0x22]));
    const text = await send("/v1/chat/completions", "{}", "text/plain");
    const big = await send("/v1/messages", JSON.stringify({ a: "x".repeat(2_000) }));
    const broken = await send("/v1/chat/completions", '{"a":');

    expect(deep).toEqual({
      status: 400,
      body: {
        error: {
          message: "request body nests JSON deeper than the limit of 4 levels; flatten it",
          type: "invalid_request_error",
          param: null,
          code: "invalid_request",
        },
      },
    });
    expect(utf8.status).toBe(400);
    expect(utf8.body.error).toMatchObject({ type: "invalid_request_error" });
    expect(utf8.body.error.message).toContain("not valid UTF-8");
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe("unsupported_media_type");
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ type: "error", error: { type: "request_too_large" } });
    expect(broken.status).toBe(400);
    expect(broken.body.error.message).toContain("malformed request body");
  });

  it("refuses __proto__ keys, so a body cannot change prototypes", async () => {
    const res = await send("/v1/messages", '{"__proto__":{"polluted":true},"a":1}');

    expect(res.status).toBe(400);
  });
});
