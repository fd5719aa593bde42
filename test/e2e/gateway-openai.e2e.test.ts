import { randomBytes } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import {
  assertRealServicesUp,
  createTestSchema,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestSchema,
} from "../support/real-services.js";

// The fake upstream reports these counts for every answer unless a step says otherwise.
const USAGE = { input_tokens: 120, output_tokens: 30 };
const ANSWER = "Paris is the capital of France.";
const RUN = randomBytes(4).toString("hex");
const KEY = `gw-openai-key-${RUN}`;
const TENANT = `oai-${RUN}`;
// Every prompt of this file carries the marker, so the log scan can look for it.
const MARKER = `PROMPT-MARKER-${RUN}`;

let fake: FakeAnthropic;
let schema: TestSchema;
let mesh: RunningMesh;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  await assertRealServicesUp();
  fake = await startFakeAnthropic({
    apiKey: "upstream-secret-key",
    defaultReply: { text: ANSWER, usage: USAGE, deltaChars: 5 },
  });
  schema = await createTestSchema("gwoai");
  mesh = await launchMesh({
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema.name,
      REDIS_URL: TEST_REDIS_URL,
      GATEWAY_API_KEYS: `${KEY}=${TENANT}`,
      GATEWAY_ADMIN_KEY: `gw-openai-admin-${RUN}`,
      ANTHROPIC_API_KEY: "upstream-secret-key",
      ANTHROPIC_BASE_URL: fake.url,
      ORCHESTRATOR_MAX_RETRIES: "0",
    },
  });
  openai = new OpenAI({ apiKey: KEY, baseURL: `${mesh.gatewayUrl}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: KEY, baseURL: mesh.gatewayUrl, maxRetries: 0 });
});

afterAll(async () => {
  await mesh?.stop();
  await schema?.drop();
  await fake?.close();
});

function prompt(text: string): string {
  return `${text} ${MARKER} ${randomBytes(3).toString("hex")}`;
}

/** Posts raw JSON text to a gateway path and reads the answer as text. */
async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${mesh.gatewayUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}`, ...headers },
    body,
  });
  return { res, text: await res.text() };
}

/** The JSON objects of an SSE body, and whether it ended with `data: [DONE]`. */
function sseData(text: string): { chunks: Record<string, unknown>[]; done: boolean } {
  const data = text
    .split("\n\n")
    .filter((frame) => frame.startsWith("data: "))
    .map((frame) => frame.slice("data: ".length));
  const done = data.at(-1) === "[DONE]";
  return { chunks: data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d)), done };
}

describe("the OpenAI-compatible API with the official SDK", () => {
  it("answers chat.completions.create with OpenAI's shape, usage and limit headers", async () => {
    const { data, response } = await openai.chat.completions
      .create({
        model: "claude-sonnet-4",
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: prompt("capital of France?") },
        ],
        max_tokens: 64,
        temperature: 0.3,
      })
      .withResponse();

    expect(data.object).toBe("chat.completion");
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.model).toBe("claude-sonnet-4");
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]?.message).toMatchObject({ role: "assistant", content: ANSWER });
    expect(data.choices[0]?.finish_reason).toBe("stop");
    expect(data.usage).toMatchObject({
      prompt_tokens: 120,
      completion_tokens: 30,
      total_tokens: 150,
    });
    expect(response.headers.get("x-request-id")).toMatch(/^req_/);
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("6000");
    expect(response.headers.get("x-ratelimit-remaining-requests")).toMatch(/^\d+$/);
    expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+ms|(\d+m)?\d+s)$/);
    expect(response.headers.get("x-ratelimit-limit-tokens")).toBe("2000000");

    const upstream = fake.requests.at(-1);
    expect(upstream?.body.system).toEqual([{ type: "text", text: "be brief" }]);
    expect(upstream?.body.max_tokens).toBe(64);
  });

  it("keeps the caller's x-request-id and returns it", async () => {
    const { response } = await openai.chat.completions
      .create(
        { model: "claude-sonnet-4", messages: [{ role: "user", content: prompt("hi") }] },
        { headers: { "x-request-id": `caller-${RUN}` } },
      )
      .withResponse();

    expect(response.headers.get("x-request-id")).toBe(`caller-${RUN}`);
  });

  it("gives a reused x-request-id a new id, so every model call has a billed row", async () => {
    const given = `reused-${RUN}`;
    const ask = () => ({
      model: "claude-sonnet-4",
      max_tokens: 64,
      messages: [{ role: "user" as const, content: prompt("again") }],
    });
    const first = await openai.chat.completions
      .create(ask(), { headers: { "x-request-id": given } })
      .withResponse();
    const second = await openai.chat.completions
      .create(ask(), { headers: { "x-request-id": given } })
      .withResponse();
    const third = await anthropic.messages
      .create(ask(), { headers: { "x-request-id": given } })
      .withResponse();

    // An id the gateway made, sent back: the gateway's own ids cannot be chosen.
    const madeByGateway = second.response.headers.get("x-request-id") ?? "";
    const fourth = await openai.chat.completions
      .create(ask(), { headers: { "x-request-id": madeByGateway } })
      .withResponse();

    const ids = [first, second, third, fourth].map((r) => r.response.headers.get("x-request-id"));
    expect(ids[0]).toBe(given);
    for (const id of ids.slice(1)) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(4);
    expect(third.response.headers.get("request-id")).toBe(ids[2]);

    // 120 input and 30 output tokens at $3 / $15 per million: 810,000 nano-dollars each.
    const deadline = Date.now() + 15_000;
    let rows: { request_id: string; cost_nanos: string }[] = [];
    while (rows.length < 4 && Date.now() < deadline) {
      ({ rows } = await schema.pool.query(
        `SELECT request_id, cost_nanos FROM "${schema.name}".usage_records
          WHERE request_id = ANY($1) ORDER BY started_at`,
        [ids],
      ));
      if (rows.length < 4) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toEqual(ids.map((id) => ({ request_id: id, cost_nanos: "810000" })));
  });

  it("streams chunks ending in data: [DONE], the usage chunk only when asked", async () => {
    const body = {
      model: "claude-sonnet-4",
      max_tokens: 64,
      stream: true,
      messages: [{ role: "user", content: prompt("stream it") }],
    };

    const plain = await post("/v1/chat/completions", JSON.stringify(body));
    const withUsage = await post(
      "/v1/chat/completions",
      JSON.stringify({ ...body, stream_options: { include_usage: true } }),
    );

    expect(plain.res.headers.get("content-type")).toContain("text/event-stream");
    const a = sseData(plain.text);
    expect(a.done).toBe(true);
    expect(a.chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(a.chunks.some((c) => "usage" in c)).toBe(false);
    expect(a.chunks.map((c) => (c.choices as { delta: { content?: string } }[])[0]?.delta.content)
      .join("")).toBe(ANSWER);
    const finish = (a.chunks.at(-1)?.choices as { finish_reason: string }[])[0]?.finish_reason;
    expect(finish).toBe("stop");

    const b = sseData(withUsage.text);
    expect(b.done).toBe(true);
    const last = b.chunks.at(-1) as { choices: unknown[]; usage: Record<string, number> };
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({
      prompt_tokens: 120,
      completion_tokens: 30,
      total_tokens: 150,
    });
    expect(b.chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it("streams through the SDK, which assembles the same answer", async () => {
    const stream = await openai.chat.completions.create({
      model: "claude-sonnet-4",
      messages: [{ role: "user", content: prompt("sdk stream") }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }

    expect(text).toBe(ANSWER);
    expect(usage?.completion_tokens).toBe(30);
  });

  it("passes tools through and returns tool calls, JSON and streamed", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: "function",
        function: {
          name: "weather",
          description: "current weather",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ];
    const toolReply = {
      kind: "reply" as const,
      content: [
        { type: "tool_use" as const, id: "toolu_1", name: "weather", input: { city: "Paris" } },
      ],
      usage: USAGE,
    };
    fake.script(toolReply, toolReply);

    const json = await openai.chat.completions.create({
      model: "claude-sonnet-4",
      messages: [{ role: "user", content: prompt("weather in Paris?") }],
      tools,
      tool_choice: "required",
    });
    const upstream = fake.requests.at(-1);
    const streamed = openai.chat.completions.stream({
      model: "claude-sonnet-4",
      messages: [{ role: "user", content: prompt("weather in Paris, streamed?") }],
      tools,
    });
    const final = await streamed.finalChatCompletion();

    expect(json.choices[0]?.finish_reason).toBe("tool_calls");
    expect(json.choices[0]?.message.content).toBeNull();
    expect(json.choices[0]?.message.tool_calls).toEqual([
      {
        id: "toolu_1",
        type: "function",
        function: { name: "weather", arguments: '{"city":"Paris"}' },
      },
    ]);
    expect(upstream?.body.tools).toEqual([
      {
        name: "weather",
        description: "current weather",
        input_schema: { type: "object", properties: { city: { type: "string" } } },
      },
    ]);
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      id: "toolu_1",
      function: { name: "weather", arguments: '{"city":"Paris"}' },
    });
  });

  it("sends a tool result back as an Anthropic tool_result turn", async () => {
    await openai.chat.completions.create({
      model: "claude-sonnet-4",
      messages: [
        { role: "user", content: prompt("weather?") },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "toolu_9",
              type: "function",
              function: { name: "weather", arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "toolu_9", content: "4C and snow" },
      ],
    });

    const messages = fake.requests.at(-1)?.body.messages as { role: string; content: unknown }[];
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(messages[1]?.content).toEqual([
      { type: "tool_use", id: "toolu_9", name: "weather", input: { city: "Oslo" } },
    ]);
    expect(messages[2]?.content).toEqual([
      {
        type: "tool_result",
        tool_use_id: "toolu_9",
        content: [{ type: "text", text: "4C and snow" }],
      },
    ]);
  });

  it("lists the catalog's models", async () => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    const one = await openai.models.retrieve("claude-haiku-3");

    expect(ids).toContain("claude-sonnet-4");
    expect(ids).toContain("claude-haiku-3");
    expect(one).toMatchObject({ id: "claude-haiku-3", object: "model" });
  });

  it("answers errors with OpenAI's error JSON, which the SDK raises by status", async () => {
    const unknown = await openai.chat.completions
      .create({ model: "gpt-17", messages: [{ role: "user", content: prompt("hi") }] })
      .catch((e: unknown) => e);
    const empty = await openai.chat.completions
      .create({ model: "claude-sonnet-4", messages: [] })
      .catch((e: unknown) => e);
    const stranger = new OpenAI({
      apiKey: "nope",
      baseURL: `${mesh.gatewayUrl}/v1`,
      maxRetries: 0,
    });
    const wrongKey = await stranger.chat.completions
      .create({ model: "claude-sonnet-4", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    const twoChoices = await post(
      "/v1/chat/completions",
      JSON.stringify({ model: "claude-sonnet-4", n: 2, messages: [{ role: "user", content: "" }] }),
    );

    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.APIError>).code).toBe("model_not_found");
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect((empty as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      type: "invalid_request_error",
      param: "messages",
      message: "messages: at least one message is required",
    });
    expect(wrongKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((wrongKey as InstanceType<typeof OpenAI.APIError>).code).toBe("invalid_api_key");
    expect(twoChoices.res.status).toBe(400);
    expect(JSON.parse(twoChoices.text)).toEqual({
      error: {
        message: "n: only n = 1 is supported",
        type: "invalid_request_error",
        param: "n",
        code: "invalid_request",
      },
    });

    // Routes the gateway lacks answer in the shape of the API the path belongs to.
    const embeddings = await post("/v1/embeddings", JSON.stringify({ input: "x" }));
    const noMethod = await post("/gateway.v1.GatewayService/Nope", "{}");
    const badJson = await post("/v1/messages", "{not json");
    expect([embeddings.res.status, JSON.parse(embeddings.text)]).toEqual([404, {
      error: {
        message: "no route for POST /v1/embeddings",
        type: "invalid_request_error",
        param: null,
        code: "invalid_request",
      },
    }]);
    expect([noMethod.res.status, JSON.parse(noMethod.text)]).toEqual([404, {
      code: "unimplemented",
      message: "no route for POST /gateway.v1.GatewayService/Nope",
    }]);
    const badJsonBody = JSON.parse(badJson.text) as { request_id: string; error: object };
    expect(badJson.res.status).toBe(400);
    expect(badJsonBody.request_id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(badJson.res.headers.get("request-id")).toBe(badJsonBody.request_id);

    const hot = await post(
      "/v1/chat/completions",
      JSON.stringify({ model: "claude-sonnet-4", temperature: 1.5,
        messages: [{ role: "user", content: "x" }] }),
    );
    expect(hot.res.status).toBe(400);
    expect(JSON.parse(hot.text)).toEqual({
      error: {
        message: "temperature: the models behind this gateway take a temperature from 0 to 1",
        type: "invalid_request_error",
        param: "temperature",
        code: "invalid_request",
      },
    });
  });
});

describe("the response cache", () => {
  const base = () => ({
    model: "claude-sonnet-4",
    max_tokens: 64,
    temperature: 0,
    messages: [{ role: "user" as const, content: prompt("cache key check") }],
  });
  const upstreamCalls = async (work: () => Promise<unknown>) => {
    const before = fake.requests.length;
    await work();
    return fake.requests.length - before;
  };

  it("misses when only tools, system, stop sequences or response format differ", async () => {
    const body = base();
    const tool = {
      type: "function" as const,
      function: { name: "t", parameters: { type: "object", properties: {} } },
    };

    const calls = [
      await upstreamCalls(() => openai.chat.completions.create(body)),
      await upstreamCalls(() => openai.chat.completions.create({ ...body, tools: [tool] })),
      await upstreamCalls(() =>
        openai.chat.completions.create({
          ...body,
          messages: [{ role: "system", content: "terse" }, ...body.messages],
        })),
      await upstreamCalls(() => openai.chat.completions.create({ ...body, stop: ["\n\n"] })),
      await upstreamCalls(() =>
        openai.chat.completions.create({ ...body, response_format: { type: "json_object" } })),
      await upstreamCalls(() => openai.chat.completions.create(body)),
    ];

    expect(calls).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it("hits when only the order of JSON keys differs, also inside tool schemas", async () => {
    const text = prompt("key order");
    const first =
      `{"model":"claude-sonnet-4","temperature":0,"max_tokens":32,` +
      `"tools":[{"type":"function","function":{"name":"f","parameters":` +
      `{"type":"object","properties":{"a":{"type":"string"}}}}}],` +
      `"messages":[{"role":"user","content":"${text}"}]}`;
    const reordered =
      `{"messages":[{"content":"${text}","role":"user"}],` +
      `"tools":[{"function":{"parameters":{"properties":{"a":{"type":"string"}},` +
      `"type":"object"},"name":"f"},"type":"function"}],` +
      `"max_tokens":32,"temperature":0,"model":"claude-sonnet-4"}`;

    const before = fake.requests.length;
    const a = await post("/v1/chat/completions", first);
    const b = await post("/v1/chat/completions", reordered);

    expect(a.res.headers.get("x-mesh-cache")).toBe("miss");
    expect(b.res.headers.get("x-mesh-cache")).toBe("hit");
    expect(fake.requests.length - before).toBe(1);
    expect(JSON.parse(b.text).choices[0].message.content).toBe(ANSWER);
  });

  it("replays a streamed hit as valid SSE in the caller's format", async () => {
    const body = base();
    await openai.chat.completions.create(body);
    const before = fake.requests.length;

    const openaiStream = await post(
      "/v1/chat/completions",
      JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    );
    const anthropicStream = anthropic.messages.stream({
      model: "claude-sonnet-4",
      max_tokens: 64,
      temperature: 0,
      messages: body.messages,
    } as Anthropic.MessageStreamParams);
    const final = await anthropicStream.finalMessage();
    const anthropicResponse = (await anthropicStream.withResponse()).response;

    expect(fake.requests.length - before).toBe(0);
    expect(openaiStream.res.headers.get("x-mesh-cache")).toBe("hit");
    const { chunks, done } = sseData(openaiStream.text);
    expect(done).toBe(true);
    const deltas = chunks.map((c) => (c.choices as { delta: { content?: string } }[])[0]?.delta);
    expect(deltas.map((d) => d?.content ?? "").join("")).toBe(ANSWER);
    const usage = (chunks.at(-1) as { usage: { completion_tokens: number } }).usage;
    expect(usage.completion_tokens).toBe(30);
    expect(anthropicResponse.headers.get("x-mesh-cache")).toBe("hit");
    expect(final.content).toEqual([{ type: "text", text: ANSWER }]);
  });

  it("follows cache-control: no-cache, no-store and max-age", async () => {
    const body = JSON.stringify(base());
    await post("/v1/chat/completions", body);

    const before = fake.requests.length;
    const noCache = await post("/v1/chat/completions", body, { "cache-control": "no-cache" });
    const noStore = await post("/v1/chat/completions", body, { "cache-control": "no-store" });
    const fresh = await post("/v1/chat/completions", body, { "cache-control": "max-age=3600" });
    await new Promise((r) => setTimeout(r, 1_100));
    const tooOld = await post("/v1/chat/completions", body, { "cache-control": "max-age=0" });

    expect(noCache.res.headers.get("x-mesh-cache")).toBe("miss");
    expect(noStore.res.headers.get("x-mesh-cache")).toBe("bypass");
    expect(fresh.res.headers.get("x-mesh-cache")).toBe("hit");
    expect(Number(fresh.res.headers.get("age"))).toBeGreaterThanOrEqual(0);
    expect(tooOld.res.headers.get("x-mesh-cache")).toBe("miss");
    expect(fake.requests.length - before).toBe(3);
  });

  it("never stores a truncated answer", async () => {
    const body = base();
    fake.script({ kind: "reply", text: "cut sh", stopReason: "max_tokens", usage: USAGE });

    const first = await openai.chat.completions.create(body);
    const second = await openai.chat.completions.create(body);

    expect(first.choices[0]?.finish_reason).toBe("length");
    expect(second.choices[0]?.message.content).toBe(ANSWER);
  });
});

describe("request limits answer with the API's error JSON", () => {
  const good = () => JSON.stringify({
    model: "claude-sonnet-4",
    max_tokens: 16,
    messages: [{ role: "user", content: prompt("still serving?") }],
  });

  it("refuses a 12 MiB body with 413 on both HTTP APIs", async () => {
    const big = JSON.stringify({
      model: "claude-sonnet-4",
      max_tokens: 16,
      messages: [{ role: "user", content: "x".repeat(12 * 1024 * 1024) }],
    });

    const openaiRes = await post("/v1/chat/completions", big);
    const anthropicRes = await post("/v1/messages", big);

    expect(openaiRes.res.status).toBe(413);
    expect(JSON.parse(openaiRes.text).error).toMatchObject({
      type: "invalid_request_error",
      code: "request_too_large",
    });
    expect(anthropicRes.res.status).toBe(413);
    expect(JSON.parse(anthropicRes.text)).toMatchObject({
      type: "error",
      error: { type: "request_too_large" },
    });
    expect((await post("/v1/chat/completions", good())).res.status).toBe(200);
  });

  it("refuses 10,000 nested arrays with 400, then keeps serving", async () => {
    const arrays = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    const nested = `{"model":"claude-sonnet-4","messages":${arrays}}`;

    const openaiRes = await post("/v1/chat/completions", nested);
    const anthropicRes = await post("/v1/messages", nested);

    expect(openaiRes.res.status).toBe(400);
    expect(JSON.parse(openaiRes.text).error.message).toContain("deeper than the limit of 64");
    expect(anthropicRes.res.status).toBe(400);
    expect(JSON.parse(anthropicRes.text).error.type).toBe("invalid_request_error");
    expect((await post("/v1/chat/completions", good())).res.status).toBe(200);
  });

  it("refuses bad UTF-8, a wrong content type, too many messages, an empty body", async () => {
    const invalidUtf8 = await fetch(`${mesh.gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"'),
        Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]),
    });
    const wrongType = await post("/v1/chat/completions", good(), { "content-type": "text/plain" });
    const many = await post("/v1/messages", JSON.stringify({
      model: "claude-sonnet-4",
      max_tokens: 16,
      messages: Array.from({ length: 1_001 }, (_, i) => ({
        role: i % 2 === 0 ? "user" : "assistant",
        content: "hi",
      })),
    }));
    const empty = await post("/v1/chat/completions", "");

    expect(invalidUtf8.status).toBe(400);
    expect(((await invalidUtf8.json()) as { error: { message: string } }).error.message)
      .toBe("request body is not valid UTF-8; send JSON encoded as UTF-8");
    expect(wrongType.res.status).toBe(415);
    expect(JSON.parse(wrongType.text).error.message).toBe("content-type must be application/json");
    expect(many.res.status).toBe(400);
    expect(JSON.parse(many.text).error.message).toContain("more than the limit of 1000");
    expect(empty.res.status).toBe(400);
    expect(wrongType.res.headers.get("x-request-id")).toMatch(/^req_/);
  });
});

describe("logs", () => {
  it("contain no key, authorization header, prompt or answer text", () => {
    const lines = Object.values(mesh.logs).flat();
    const secrets = [
      KEY,
      `gw-openai-admin-${RUN}`,
      "upstream-secret-key",
      "Bearer ",
      MARKER,
      ANSWER,
    ];

    expect(lines.length).toBeGreaterThan(20);
    for (const secret of secrets) {
      expect(lines.filter((line) => line.includes(secret)), secret).toEqual([]);
    }
    expect(lines.filter((line) => /authorization"\s*:/i.test(line))).toEqual([]);
    const finished = lines.filter((line) => line.includes('"request finished"'));
    expect(finished.length).toBeGreaterThan(10);
    expect(JSON.parse(finished[0] ?? "{}").promptDigest).toMatchObject({
      chars: expect.any(Number),
      hmac: expect.stringMatching(/^[0-9a-f]{12}$/),
    });
  });
});
