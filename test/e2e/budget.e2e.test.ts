import { CostLedgerService, BudgetPeriod } from "@mesh/contracts/ledger/v1/ledger_pb";
import { moneyToNanos, usdFromNanos } from "@mesh/money";
import { createGrpcClient } from "@mesh/rpc";
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

// Each answer bills 5 input and 100 output tokens of claude-sonnet-4: 5*3000 + 100*15000.
const COST_NANOS = 1_515_000n;
const LIMIT_NANOS = 10_000_000n;

let fake: FakeAnthropic;
let schema: TestSchema;
let mesh: RunningMesh;

beforeAll(async () => {
  await assertRealServicesUp();
  fake = await startFakeAnthropic({
    defaultReply: { text: "Fine.", usage: { input_tokens: 5, output_tokens: 100 } },
    latencyMs: 30,
  });
  schema = await createTestSchema("budget");
  mesh = await launchMesh({
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema.name,
      REDIS_URL: TEST_REDIS_URL,
      GATEWAY_API_KEYS: "budget-key=thrifty",
      ANTHROPIC_API_KEY: "upstream",
      ANTHROPIC_BASE_URL: fake.url,
      ORCHESTRATOR_BUDGET_DOWNTIER_AT: "0",
    },
  });
});

afterAll(async () => {
  await mesh?.stop();
  await schema?.drop();
  await fake?.close();
});

describe("a tenant budget under concurrent load", () => {
  it("is never overspent, and refused requests never reach the provider", async () => {
    const ledger = createGrpcClient(
      CostLedgerService,
      `127.0.0.1:${mesh.ports["cost-ledger"].grpc}`,
    );
    await ledger.setBudget({
      budget: { tenant: "thrifty", period: BudgetPeriod.DAY, limit: usdFromNanos(LIMIT_NANOS) },
    });
    const upstreamBefore = fake.requests.length;

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${mesh.gatewayUrl}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": "budget-key", "content-type": "application/json" },
          body: JSON.stringify({
            model: "claude-sonnet-4",
            max_tokens: 100,
            messages: [{ role: "user", content: `budget request ${i}` }],
          }),
        }).then(async (res) => ({ status: res.status, body: await res.json() })),
      ),
    );

    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body).toMatchObject({
        type: "error",
        error: { type: "rate_limit_error", reason: "budget_exceeded" },
      });
    }
    expect(fake.requests.length - upstreamBefore).toBe(ok.length);

    const spend = await waitForSpend(ledger, ok.length);
    expect(moneyToNanos(spend.total)).toBe(BigInt(ok.length) * COST_NANOS);
    expect(moneyToNanos(spend.total) <= LIMIT_NANOS).toBe(true);
    ledger.close();
  });
});

async function waitForSpend(
  ledger: ReturnType<typeof createGrpcClient<typeof CostLedgerService>>,
  okCount: number,
) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const okRows = await schema.pool.query(
      `SELECT count(*)::int AS n FROM "${schema.name}".usage_records WHERE status = 'ok'`,
    );
    if (okRows.rows[0].n === okCount) return ledger.getSpend({ tenant: "thrifty" });
    if (Date.now() > deadline) throw new Error("usage rows did not arrive");
    await new Promise((r) => setTimeout(r, 100));
  }
}
