import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Role } from "@mesh/contracts/common/v1/chat_pb";
import { GatewayService } from "@mesh/contracts/gateway/v1/gateway_pb";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import {
  assertRealServicesUp,
  createTestSchema,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestSchema,
} from "../support/real-services.js";

// Streams the gateway cuts short are billed for the tokens the model produced before the cut,
// at the prices in effect, and the row keeps those prices.

// claude-sonnet-4 in the default catalog: $3 / $15 / $0.30 / $3.75 per million tokens.
const SONNET = {
  input_nanos_per_mtok: "3000000000",
  output_nanos_per_mtok: "15000000000",
  cache_read_nanos_per_mtok: "300000000",
  cache_write_nanos_per_mtok: "3750000000",
};

// Forty four-byte sentences: each delta is one sentence and, at four bytes a token, one token.
const FORTY_SENTENCES = "Hi. ".repeat(40);
// message_start, content_block_start and ping come before the first delta.
const EVENTS_BEFORE_TEXT = 3;

// The gateway takes a caller's x-request-id once (on every replica, through Redis), so each
// run names its requests afresh.
const RUN = randomBytes(4).toString("hex");

let fake: FakeAnthropic;
let schema: TestSchema;
let mesh: RunningMesh;
let dir: string;

beforeAll(async () => {
  await assertRealServicesUp();
  dir = mkdtempSync(join(tmpdir(), "mesh-stream-billing-"));
  const policyFile = join(dir, "policy.yaml");
  writeFileSync(policyFile, "tenants:\n  strict:\n    pii: { EMAIL: block }\n");
  fake = await startFakeAnthropic();
  schema = await createTestSchema("stream_billing");
  mesh = await launchMesh({
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema.name,
      REDIS_URL: TEST_REDIS_URL,
      GATEWAY_API_KEYS: "plain-key=plain,strict-key=strict",
      ANTHROPIC_API_KEY: "upstream",
      ANTHROPIC_BASE_URL: fake.url,
      GUARDRAILS_POLICY_FILE: policyFile,
    },
  });
});

afterAll(async () => {
  await mesh?.stop();
  await schema?.drop();
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** POST /v1/messages for claude-sonnet-4 under this run's id `requestId`. */
function post(key: string, requestId: string, body: object, signal?: AbortSignal) {
  return fetch(`${mesh.gatewayUrl}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": key,
      "x-request-id": `${requestId}-${RUN}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ model: "claude-sonnet-4", max_tokens: 500, ...body }),
    signal,
  });
}

function openStream(key: string, requestId: string, signal?: AbortSignal) {
  const messages = [{ role: "user", content: "Say hi forty times." }];
  return post(key, requestId, { stream: true, messages }, signal);
}

function ask(key: string, requestId: string, signal?: AbortSignal) {
  return post(key, requestId, { messages: [{ role: "user", content: "Answer slowly." }] }, signal);
}

/** StreamChat over Connect, read to its end. */
async function connectStream(requestId: string, signal: AbortSignal) {
  const transport = createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1" });
  const text = { block: { case: "text" as const, value: { text: "Hi" } } };
  const stream = createClient(GatewayService, transport).streamChat(
    { params: { model: "claude-sonnet-4", maxTokens: 500,
      messages: [{ role: Role.USER, content: [text] }] } },
    { signal, headers: { "x-api-key": "plain-key", "x-request-id": `${requestId}-${RUN}` } },
  );
  for await (const _ of stream) void _;
}

async function usageRow(name: string) {
  const requestId = `${name}-${RUN}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { rows } = await schema.pool.query(
      `SELECT status, input_tokens, output_tokens, cost_nanos, input_nanos_per_mtok,
              output_nanos_per_mtok, cache_read_nanos_per_mtok, cache_write_nanos_per_mtok
         FROM "${schema.name}".usage_records WHERE request_id = $1`,
      [requestId],
    );
    if (rows[0]) return rows[0] as Record<string, string>;
    if (Date.now() > deadline) throw new Error(`no usage row for ${requestId}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a stream cut short is billed for what the model produced", () => {
  it("bills a caller that hangs up after 40 output tokens for 40, status cancelled", async () => {
    fake.script({
      kind: "reply",
      text: FORTY_SENTENCES + "And then some more that never comes.",
      deltaChars: 4,
      usage: { input_tokens: 1_000 },
      stallAfterEvents: EVENTS_BEFORE_TEXT + 40,
    });
    const hangUp = new AbortController();
    const res = await openStream("plain-key", "hang-up-after-40", hangUp.signal);
    expect(res.status).toBe(200);

    // Read until the 40th sentence's text has reached the gateway (the guardrail gate holds the
    // last sentence until the next text arrives, so 39 reach the caller), then hang up.
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = "";
    while ((seen.match(/Hi\./g) ?? []).length < 39) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended before the caller hung up");
      seen += decoder.decode(value, { stream: true });
    }
    hangUp.abort();

    const row = await usageRow("hang-up-after-40");
    // 1,000 × $3/MTok + 40 × $15/MTok = 3,000,000 + 600,000 nano-dollars.
    expect(row).toEqual({
      status: "cancelled",
      input_tokens: "1000",
      output_tokens: "40",
      cost_nanos: "3600000",
      ...SONNET,
    });
  });

  // Both APIs: the Anthropic one over SSE, and Connect, whose server once waited for ever on
  // a response closed before the first event.
  it.each([
    ["Anthropic SSE", (id: string, signal: AbortSignal) => openStream("plain-key", id, signal)],
    ["Connect", connectStream],
  ])("bills the prompt of a caller over %s who left before the answer began", async (api, open) => {
    // The provider takes 800 ms to its first byte, then sends one delta and thinks on.
    fake.script({
      kind: "reply",
      text: "Hi. And more that never comes.",
      deltaChars: 4,
      delayMs: 800,
      usage: { input_tokens: 1_000 },
      stallAfterEvents: EVENTS_BEFORE_TEXT + 1,
    });
    // The gateway sends its headers with the first event, so the caller leaves with nothing.
    const name = `hang-up-before-start-${api.replace(/\W/g, "")}`;
    const hangUp = new AbortController();
    const opened = open(name, hangUp.signal);
    await new Promise((r) => setTimeout(r, 300));
    hangUp.abort();
    await expect(opened).rejects.toThrow();

    // The gateway kept the stream until its start event named the model, its prices and the
    // prompt's usage, then cut it: 1,000 input tokens at $3/MTok, no output reached it.
    expect(await usageRow(name)).toEqual({
      status: "cancelled",
      input_tokens: "1000",
      output_tokens: "0",
      cost_nanos: "3000000",
      ...SONNET,
    });
  });

  it("bills a unary answer that came within 2 s of its caller hanging up, as cancelled",
    async () => {
      fake.script({
        kind: "reply",
        text: "A late answer.",
        delayMs: 800,
        usage: { input_tokens: 1_000, output_tokens: 100 },
      });
      const hangUp = new AbortController();
      const asked = ask("plain-key", "unary-late-answer", hangUp.signal);
      await new Promise((r) => setTimeout(r, 300));
      hangUp.abort();
      await expect(asked).rejects.toThrow();

      // 1,000 × $3 + 100 × $15 per million: the model's work is billed though nobody read it.
      expect(await usageRow("unary-late-answer")).toEqual({
        status: "cancelled",
        input_tokens: "1000",
        output_tokens: "100",
        cost_nanos: "4500000",
        ...SONNET,
      });
      expect(fake.requests.at(-1)?.leftAt).toBeUndefined();
    });

  it("cuts a unary model call 2 s after its caller hung up", async () => {
    fake.script({ kind: "reply", text: "Never read.", delayMs: 6_000 });
    const hangUp = new AbortController();
    const asked = ask("plain-key", "unary-cut", hangUp.signal);
    await new Promise((r) => setTimeout(r, 300));
    const leftAt = Date.now();
    hangUp.abort();
    await expect(asked).rejects.toThrow();

    const row = await usageRow("unary-cut");
    const upstream = fake.requests.at(-1)!;
    expect(row).toMatchObject({ status: "cancelled", output_tokens: "0", cost_nanos: "0" });
    // Cut after the grace, long before the 6 s answer.
    expect(upstream.leftAt! - leftAt).toBeGreaterThanOrEqual(1_900);
    expect(upstream.leftAt! - leftAt).toBeLessThan(4_000);
  });

  it("bills a stream a guardrail stopped for the text produced up to the stop", async () => {
    // Two clean sentences, then one that leaks an email: the gate blocks it when the delta that
    // ends it arrives, after 14 + 12 + 42 bytes (with their trailing spaces) were produced.
    const answer = "Mild weather. Rain later. Mail leak.person@example.com for details. Bye now.";
    fake.script({ kind: "reply", text: answer, deltaChars: 1, usage: { input_tokens: 200 } });

    const res = await openStream("strict-key", "guardrail-stop");
    const body = await res.text();
    expect(body).toContain("Mild weather.");
    expect(body).not.toContain("leak.person");

    const row = await usageRow("guardrail-stop");
    // 200 × $3/MTok + ceil(68 / 4) = 17 × $15/MTok = 600,000 + 255,000 nano-dollars.
    expect(row).toEqual({
      status: "blocked",
      input_tokens: "200",
      output_tokens: "17",
      cost_nanos: "855000",
      ...SONNET,
    });
  });

  it("keeps the prices a finished stream was billed at with its row", async () => {
    fake.script({
      kind: "reply",
      text: "All done.",
      usage: { input_tokens: 10, output_tokens: 3 },
    });

    const res = await openStream("plain-key", "finished-stream");
    expect(await res.text()).toContain("message_stop");

    // 10 × $3/MTok + 3 × $15/MTok = 30,000 + 45,000 nano-dollars.
    expect(await usageRow("finished-stream")).toEqual({
      status: "ok",
      input_tokens: "10",
      output_tokens: "3",
      cost_nanos: "75000",
      ...SONNET,
    });
  });
});
