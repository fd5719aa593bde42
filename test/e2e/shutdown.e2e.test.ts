import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";

const KEY = "drain-key";
let mesh: RunningMesh;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "mesh-drain-"));
  mesh = await launchMesh({
    env: {
      GATEWAY_API_KEYS: `${KEY}=drain`,
      LEDGER_DATA_DIR: dataDir,
      SIMULATOR_LATENCY_MS: "1500",
      SHUTDOWN_DEADLINE_MS: "8000",
    },
  });
});

afterAll(async () => {
  await mesh?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("SIGTERM", () => {
  it("drains the request in flight, refuses new ones, and exits 0 in time", async () => {
    const inFlight = fetch(`${mesh.gatewayUrl}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-haiku-3",
        max_tokens: 50,
        messages: [{ role: "user", content: "take your time" }],
      }),
    });
    await new Promise((r) => setTimeout(r, 400));

    const gateway = mesh.processes.gateway;
    const exited = new Promise<number | null>((resolve) => gateway.once("exit", resolve));
    const signalledAt = Date.now();
    gateway.kill("SIGTERM");

    const res = await inFlight;
    const body = (await res.json()) as { content: { text: string }[] };
    const code = await exited;
    const refused = await fetch(`${mesh.gatewayUrl}/health`).then(
      () => false,
      () => true,
    );

    expect(res.status).toBe(200);
    expect(body.content[0]?.text.startsWith("[simulator]")).toBe(true);
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(8_000);
    expect(refused).toBe(true);
    expect(mesh.logs.gateway.some((l) => l.includes('"msg":"shutting down"'))).toBe(true);
  });
});
