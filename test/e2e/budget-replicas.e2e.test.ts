import { randomBytes } from "node:crypto";
import { BudgetPeriod, CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import { moneyToNanos, usdFromNanos } from "@mesh/money";
import { createGrpcClient } from "@mesh/rpc";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExtraGateway, type ExtraGateway } from "../support/extra-gateway.js";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import {
  assertRealServicesUp,
  createTestSchema,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestSchema,
} from "../support/real-services.js";

// The worst case of each request is its prompt estimate plus max_tokens 10,000 at
// claude-sonnet-4's $15 per million output tokens: just over $0.15. A $0.375 budget then fits
// two and a half worst cases, so exactly two may be reserved at once.
const MAX_TOKENS = 10_000;
const LIMIT_NANOS = 375_000_000n;
// What each answer bills: 20 input and 5 output tokens at $3 / $15 per million.
const ANSWER_COST_NANOS = 20n * 3_000n + 5n * 15_000n;
// The provider holds every answer this long, so all 200 reservations are asked for while the
// first two are still in flight (none settles early and frees room for a third).
const PROVIDER_LATENCY_MS = 4_000;

const RUN = randomBytes(4).toString("hex");
const TENANT = `two-gw-${RUN}`;
const KEY = `two-gw-key-${RUN}`;

let fake: FakeAnthropic;
let schema: TestSchema;
let mesh: RunningMesh;
let second: ExtraGateway;

const sharedEnv = () => ({
  DATABASE_URL: TEST_DATABASE_URL,
  DATABASE_SCHEMA: schema.name,
  REDIS_URL: TEST_REDIS_URL,
  GATEWAY_API_KEYS: `${KEY}=${TENANT}`,
  ANTHROPIC_API_KEY: "upstream",
  ANTHROPIC_BASE_URL: fake.url,
  ORCHESTRATOR_BUDGET_DOWNTIER_AT: "0",
  RATE_LIMIT_REQUESTS_PER_MINUTE: "100000",
  RATE_LIMIT_TOKENS_PER_MINUTE: "0",
});

beforeAll(async () => {
  await assertRealServicesUp();
  fake = await startFakeAnthropic({
    latencyMs: PROVIDER_LATENCY_MS,
    defaultReply: { text: "Fine.", usage: { input_tokens: 20, output_tokens: 5 } },
  });
  schema = await createTestSchema("budget_two_gw");
  mesh = await launchMesh({ env: sharedEnv() });
  second = await startExtraGateway(mesh, sharedEnv());
});

afterAll(async () => {
  await second?.stop();
  await mesh?.stop();
  await schema?.drop();
  await fake?.close();
});

describe("a budget shared by two gateway processes", () => {
  it("lets at most two of 200 concurrent requests reach the provider", async () => {
    const ledger = createGrpcClient(
      CostLedgerService,
      `127.0.0.1:${mesh.ports["cost-ledger"].grpc}`,
    );
    await ledger.setBudget({
      budget: { tenant: TENANT, period: BudgetPeriod.DAY, limit: usdFromNanos(LIMIT_NANOS) },
    });
    const gateways = [mesh.gatewayUrl, second.url];

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(`${gateways[i % 2]}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": KEY, "content-type": "application/json" },
          body: JSON.stringify({
            model: "claude-sonnet-4",
            max_tokens: MAX_TOKENS,
            messages: [{ role: "user", content: `budget race ${i}` }],
          }),
        }).then(async (res) => ({ status: res.status, body: await res.json(), gateway: i % 2 })),
      ),
    );

    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(2);
    expect(fake.requests).toHaveLength(2);
    expect(refused).toHaveLength(198);
    for (const r of refused) {
      expect(r).toMatchObject({
        status: 429,
        body: { type: "error", error: { type: "rate_limit_error", reason: "budget_exceeded" } },
      });
    }
    // Both gateways turned requests away: the budget is one, wherever requests come in.
    expect(new Set(refused.map((r) => r.gateway))).toEqual(new Set([0, 1]));

    const deadline = Date.now() + 15_000;
    let rows = 0;
    while (rows < 200 && Date.now() < deadline) {
      const counted = await schema.pool.query(
        `SELECT count(*)::int AS n FROM "${schema.name}".usage_records WHERE tenant = $1`,
        [TENANT],
      );
      rows = counted.rows[0].n;
      if (rows < 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toBe(200);

    const status = await ledger.getBudgetStatus({ tenant: TENANT });
    const day = status.budgets[0]!;
    expect(moneyToNanos(day.spent)).toBe(2n * ANSWER_COST_NANOS);
    expect(moneyToNanos(day.spent) <= LIMIT_NANOS).toBe(true);
    expect(moneyToNanos(day.reserved)).toBe(0n);
    const inFlight = await ledger.listReservations({ tenant: TENANT });
    expect(inFlight.totalCount).toBe(0n);
    ledger.close();
  });
});
