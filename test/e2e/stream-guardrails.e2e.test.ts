import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";

// The third sentence leaks an email address the prompt never contained.
const ANSWER =
  "The weather is mild today. Tomorrow brings rain. " +
  "Write to leak.person@example.com for details. Bring an umbrella.";

let fake: FakeAnthropic;
let mesh: RunningMesh;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mesh-stream-guard-"));
  const policyFile = join(dir, "policy.yaml");
  writeFileSync(
    policyFile,
    "default:\n  pii: { action: redact }\ntenants:\n  strict:\n" + "    pii: { EMAIL: block }\n",
  );
  fake = await startFakeAnthropic({ defaultReply: { text: ANSWER, deltaChars: 6 } });
  mesh = await launchMesh({
    env: {
      GATEWAY_API_KEYS: "strict-key=strict,plain-key=plain",
      LEDGER_DATA_DIR: join(dir, "ledger"),
      ANTHROPIC_API_KEY: "upstream",
      ANTHROPIC_BASE_URL: fake.url,
      GUARDRAILS_POLICY_FILE: policyFile,
    },
  });
});

afterAll(async () => {
  await mesh?.stop();
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function streamAs(key: string) {
  const sdk = new Anthropic({ apiKey: key, baseURL: mesh.gatewayUrl, maxRetries: 0 });
  const stream = await sdk.messages.create({
    model: "claude-sonnet-4",
    max_tokens: 200,
    stream: true,
    messages: [{ role: "user", content: "What is the weather like?" }],
  });
  let text = "";
  let stopReason: string | null = null;
  const raw: string[] = [];
  for await (const event of stream) {
    raw.push(JSON.stringify(event));
    if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
      text += event.delta.text;
    }
    if (event.type === "message_delta") stopReason = event.delta.stop_reason;
  }
  return { text, stopReason, raw: raw.join("\n") };
}

describe("streamed answers are checked sentence by sentence", () => {
  it("stops before a sentence that leaks an email when the tenant blocks emails", async () => {
    const { text, stopReason, raw } = await streamAs("strict-key");

    expect(text).toBe("The weather is mild today. Tomorrow brings rain.");
    expect(stopReason).toBe("refusal");
    expect(raw).not.toContain("leak.person");
    expect(raw).not.toContain("example.com");
  });

  it("redacts the leaked email and finishes when the tenant redacts", async () => {
    const { text, stopReason } = await streamAs("plain-key");

    expect(text).not.toContain("leak.person@example.com");
    expect(text).toMatch(
      /^The weather is mild today\. Tomorrow brings rain\. Write to <EMAIL_\d+> /,
    );
    expect(text.endsWith("Bring an umbrella.")).toBe(true);
    expect(stopReason).toBe("end_turn");
  });

  it("refuses requests with a clear error once the guardrails service is gone", async () => {
    const guardrails = mesh.processes.guardrails;
    await new Promise((resolve) => {
      guardrails.once("exit", resolve);
      guardrails.kill("SIGKILL");
    });

    const res = await fetch(`${mesh.gatewayUrl}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "plain-key", "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4",
        max_tokens: 20,
        messages: [{ role: "user", content: "hello" }],
      }),
    });
    const body = (await res.json()) as { error: { type: string; message: string } };

    expect(res.status).toBe(503);
    expect(body.error.type).toBe("api_error");
    expect(body.error.message).toContain("safety checks are unavailable");
  });
});
