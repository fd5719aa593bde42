import { createHash, randomBytes } from "node:crypto";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AdminService, Scope } from "@mesh/contracts/gateway/v1/admin_pb";
import { BillingService } from "@mesh/contracts/gateway/v1/billing_pb";
import {
  BudgetPeriod,
  CostLedgerService,
  ReservationState,
  SpendGroup,
  type SpendRow,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import { moneyToNanos, usdFromNanos } from "@mesh/money";
import { createGrpcClient, GrpcStatus, type GrpcClient } from "@mesh/rpc";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import {
  assertRealServicesUp,
  createTestSchema,
  eventually,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestSchema,
} from "../support/real-services.js";

const RUN = randomBytes(4).toString("hex");
const ADMIN_KEY = `billing-admin-${RUN}`;
const ACME = `acme-${RUN}`;
const BETA = `beta-${RUN}`;
// Static keys (GATEWAY_API_KEYS) carry the inference and metrics:read scopes.
const ACME_KEY = `billing-acme-${RUN}`;
const BETA_KEY = `billing-beta-${RUN}`;
const ACME_KEY_ID = staticKeyId(ACME_KEY);
const BETA_KEY_ID = staticKeyId(BETA_KEY);
const MODEL = "claude-sonnet-4";

// Each answer bills 5 input and 100 output tokens of claude-sonnet-4: 5*3000 + 100*15000.
const COST_NANOS = 1_515_000n;
const ACME_REQUESTS = 2;
const LIMIT_NANOS = 50_000_000n;
const HELD_NANOS = 2_000_000n;
const HELD_REQUEST = `held-${RUN}`;

/** BillingService's calls, as both the grpc-js and the Connect client offer them. */
type BillingClient = Omit<GrpcClient<typeof BillingService>, "close" | "address">;

let fake: FakeAnthropic;
let schema: TestSchema;
let mesh: RunningMesh;
let ledger: GrpcClient<typeof CostLedgerService>;
let grpcBilling: GrpcClient<typeof BillingService>;
let connectBilling: Client<typeof BillingService>;
let inferenceOnlyKey: string;
let heldReservationId: string;
let today: string;

const as = (key: string) => ({ headers: { "x-api-key": key } });

beforeAll(async () => {
  await assertRealServicesUp();
  fake = await startFakeAnthropic({
    defaultReply: { text: "Fine.", usage: { input_tokens: 5, output_tokens: 100 } },
  });
  schema = await createTestSchema("billing");
  mesh = await launchMesh({
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema.name,
      REDIS_URL: TEST_REDIS_URL,
      GATEWAY_ADMIN_KEY: ADMIN_KEY,
      GATEWAY_API_KEYS: `${ACME_KEY}=${ACME},${BETA_KEY}=${BETA}`,
      ANTHROPIC_API_KEY: "upstream",
      ANTHROPIC_BASE_URL: fake.url,
    },
  });
  ledger = createGrpcClient(CostLedgerService, `127.0.0.1:${mesh.ports["cost-ledger"].grpc}`);
  grpcBilling = createGrpcClient(BillingService, mesh.gatewayGrpcAddress);
  const transport = createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1" });
  connectBilling = createClient(BillingService, transport);

  const created = await createClient(AdminService, transport).createApiKey(
    { tenant: ACME, name: "chat only", scopes: [Scope.INFERENCE] },
    as(ADMIN_KEY),
  );
  inferenceOnlyKey = created.secret;

  // The budget goes in through the gateway; usage through real answers; one reservation is
  // taken straight at the ledger to stand for a request still in flight.
  await grpcBilling.setBudget(
    { budget: { tenant: ACME, period: BudgetPeriod.DAY, limit: usdFromNanos(LIMIT_NANOS) } },
    as(ADMIN_KEY),
  );
  for (let i = 0; i < ACME_REQUESTS; i++) await chat(ACME_KEY, `acme question ${i}`);
  await chat(BETA_KEY, "beta question");
  await eventually(async () => {
    const rows = await schema.pool.query(
      `SELECT count(*)::int AS n FROM "${schema.name}".usage_records WHERE status = 'ok'`,
    );
    return rows.rows[0].n === ACME_REQUESTS + 1 ? true : undefined;
  }, 15_000, "three usage rows");
  const held = await ledger.reserveBudget({
    requestId: HELD_REQUEST,
    tenant: ACME,
    apiKeyId: ACME_KEY_ID,
    model: MODEL,
    amount: usdFromNanos(HELD_NANOS),
  });
  heldReservationId = held.reservationId;
  today = new Date().toISOString().slice(0, 10);
});

afterAll(async () => {
  ledger?.close();
  grpcBilling?.close();
  await mesh?.stop();
  await schema?.drop();
  await fake?.close();
});

async function chat(key: string, text: string): Promise<void> {
  const res = await fetch(`${mesh.gatewayUrl}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": key, "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: "user", content: `${text} ${RUN}` }],
    }),
  });
  if (res.status !== 200) throw new Error(`chat answered ${res.status}: ${await res.text()}`);
}

function staticKeyId(key: string): string {
  return `key_${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
}

/** A spend row as plain values, cost in nano-dollars. */
function spend(row: SpendRow | undefined) {
  if (!row) return undefined;
  return {
    tenant: row.tenant,
    apiKeyId: row.apiKeyId,
    model: row.model,
    day: row.day,
    costNanos: moneyToNanos(row.cost),
    requests: row.requests,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
  };
}

/** The status code a refused call ended with, on either protocol (they share numbering). */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  const outcome = await call.then(
    () => undefined,
    (err: { code: number; message: string }) => err,
  );
  if (!outcome) throw new Error("the call succeeded; it should have been refused");
  return { code: outcome.code, message: outcome.message };
}

describe.each([
  ["gRPC", () => grpcBilling as BillingClient],
  ["Connect", () => connectBilling as BillingClient],
])("BillingService over %s", (_protocol, client) => {
  it("gives an admin every tenant's spend, grouped by tenant and key", async () => {
    const answer = await client().querySpend(
      { groupBy: [SpendGroup.TENANT, SpendGroup.API_KEY] },
      as(ADMIN_KEY),
    );

    expect(answer.rows.map(spend)).toEqual([
      {
        tenant: ACME,
        apiKeyId: ACME_KEY_ID,
        model: "",
        day: "",
        costNanos: COST_NANOS * 2n,
        requests: 2n,
        inputTokens: 10n,
        outputTokens: 200n,
      },
      {
        tenant: BETA,
        apiKeyId: BETA_KEY_ID,
        model: "",
        day: "",
        costNanos: COST_NANOS,
        requests: 1n,
        inputTokens: 5n,
        outputTokens: 100n,
      },
    ]);
    expect(spend(answer.total)?.costNanos).toBe(COST_NANOS * 3n);
    expect(answer.truncated).toBe(false);
  });

  it("gives a metrics:read key its own tenant's spend by key, model and day", async () => {
    const answer = await client().querySpend(
      { groupBy: [SpendGroup.API_KEY, SpendGroup.MODEL, SpendGroup.DAY] },
      as(ACME_KEY),
    );

    expect(answer.rows.map(spend)).toEqual([
      {
        tenant: "",
        apiKeyId: ACME_KEY_ID,
        model: MODEL,
        day: today,
        costNanos: COST_NANOS * 2n,
        requests: 2n,
        inputTokens: 10n,
        outputTokens: 200n,
      },
    ]);
    expect(spend(answer.total)?.costNanos).toBe(COST_NANOS * 2n);
  });

  it("tells the remaining budget: limit minus spent minus held", async () => {
    const status = await client().getBudgetStatus({}, as(ACME_KEY));
    const none = await client().getBudgetStatus({}, as(BETA_KEY));

    const spent = COST_NANOS * 2n;
    expect(status.hasBudget).toBe(true);
    expect(moneyToNanos(status.remaining)).toBe(LIMIT_NANOS - spent - HELD_NANOS);
    expect(status.usedFraction).toBe(Number(spent + HELD_NANOS) / Number(LIMIT_NANOS));
    expect(status.budgets).toHaveLength(1);
    const [state] = status.budgets;
    expect(state?.budget?.tenant).toBe(ACME);
    expect(state?.budget?.period).toBe(BudgetPeriod.DAY);
    expect(moneyToNanos(state?.budget?.limit)).toBe(LIMIT_NANOS);
    expect(moneyToNanos(state?.spent)).toBe(spent);
    expect(moneyToNanos(state?.reserved)).toBe(HELD_NANOS);
    expect(state?.spentTokens).toBe(210n);
    expect(none.hasBudget).toBe(false);
    expect(none.budgets).toEqual([]);
  });

  it("lists reservations in flight of the caller's tenant only", async () => {
    const acme = await client().listReservations({}, as(ACME_KEY));
    const beta = await client().listReservations({}, as(BETA_KEY));
    const everyone = await client().listReservations({}, as(ADMIN_KEY));

    expect(heldReservationId).not.toBe("");
    expect(acme.reservations.map((r) => [r.reservationId, r.requestId, r.tenant, r.state])).toEqual(
      [[heldReservationId, HELD_REQUEST, ACME, ReservationState.HELD]],
    );
    expect(acme.reservations[0]?.apiKeyId).toBe(ACME_KEY_ID);
    expect(moneyToNanos(acme.reservations[0]?.amount)).toBe(HELD_NANOS);
    expect(acme.totalCount).toBe(1n);
    expect(moneyToNanos(acme.totalAmount)).toBe(HELD_NANOS);
    expect(beta.totalCount).toBe(0n);
    expect(beta.reservations).toEqual([]);
    expect(everyone.totalCount).toBe(1n);
  });

  it("lists budgets: own tenant for a metrics:read key, every tenant for an admin", async () => {
    const acme = await client().listBudgets({}, as(ACME_KEY));
    const beta = await client().listBudgets({}, as(BETA_KEY));
    const everyone = await client().listBudgets({}, as(ADMIN_KEY));

    expect(acme.budgets.map((b) => b.budget?.tenant)).toEqual([ACME]);
    expect(moneyToNanos(acme.budgets[0]?.remaining)).toBe(
      LIMIT_NANOS - COST_NANOS * 2n - HELD_NANOS,
    );
    expect(beta.budgets).toEqual([]);
    expect(everyone.budgets.map((b) => b.budget?.tenant)).toEqual([ACME]);
  });

  it("refuses another tenant's data and budget changes to a metrics:read key", async () => {
    const c = client();
    const denied = await Promise.all([
      refusal(c.querySpend({ tenant: BETA }, as(ACME_KEY))),
      refusal(c.getBudgetStatus({ tenant: BETA }, as(ACME_KEY))),
      refusal(c.listReservations({ tenant: BETA }, as(ACME_KEY))),
      refusal(c.listBudgets({ tenant: BETA }, as(ACME_KEY))),
    ]);
    const changes = await Promise.all([
      refusal(
        c.setBudget(
          { budget: { tenant: ACME, period: BudgetPeriod.DAY, limit: usdFromNanos(1n) } },
          as(ACME_KEY),
        ),
      ),
      refusal(c.deleteBudget({ tenant: ACME, period: BudgetPeriod.DAY }, as(ACME_KEY))),
    ]);
    const after = await c.getBudgetStatus({}, as(ACME_KEY));

    for (const refused of denied) {
      expect(refused).toEqual({
        code: GrpcStatus.PERMISSION_DENIED,
        message: expect.stringContaining(
          `this API key may only read tenant ${ACME}; leave tenant empty or use an admin key`,
        ),
      });
    }
    for (const refused of changes) {
      expect(refused.code).toBe(GrpcStatus.PERMISSION_DENIED);
      expect(refused.message).toContain("this API key lacks the admin scope");
    }
    expect(moneyToNanos(after.budgets[0]?.budget?.limit)).toBe(LIMIT_NANOS);
  });

  it("refuses keys without metrics:read, calls without a key, and bad queries", async () => {
    const c = client();
    const inferenceOnly = await refusal(c.querySpend({}, as(inferenceOnlyKey)));
    const anonymous = await refusal(c.querySpend({}));
    const noTenant = await refusal(c.getBudgetStatus({}, as(ADMIN_KEY)));
    const tooMany = await refusal(c.querySpend({ limit: 20_000 }, as(ADMIN_KEY)));

    expect(inferenceOnly.code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(inferenceOnly.message).toContain("this API key lacks the metrics:read scope");
    expect(anonymous.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(noTenant.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(noTenant.message).toContain("tenant: required");
    // The ledger's own validation comes through with its code and message.
    expect(tooMany.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(tooMany.message).toContain("limit is 20000; at most 10000 are allowed");
  });
});

describe("BillingService as JSON over Connect", () => {
  it("answers the README's curl shape, then an admin deletes the budget", async () => {
    const post = (method: string, key: string, body: object) =>
      fetch(`${mesh.gatewayUrl}/gateway.v1.BillingService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, json: await res.json() }));

    const spent = await post("QuerySpend", ACME_KEY, { groupBy: ["SPEND_GROUP_MODEL"] });
    const status = await post("GetBudgetStatus", ACME_KEY, {});
    const refused = await post("SetBudget", ACME_KEY, { budget: { tenant: ACME } });
    const deleted = await post("DeleteBudget", ADMIN_KEY, {
      tenant: ACME,
      period: "BUDGET_PERIOD_DAY",
    });
    const again = await post("DeleteBudget", ADMIN_KEY, {
      tenant: ACME,
      period: "BUDGET_PERIOD_DAY",
    });
    const gone = await post("GetBudgetStatus", ACME_KEY, {});
    const misspeltGroup = await post("QuerySpend", ACME_KEY, { groupBy: ["SPEND_GROUP_MODLE"] });
    const misspeltField = await post("QuerySpend", ACME_KEY, { gruopBy: ["SPEND_GROUP_MODEL"] });

    expect(spent).toEqual({
      status: 200,
      json: {
        rows: [
          {
            model: MODEL,
            cost: { currencyCode: "USD", nanos: 3_030_000 },
            requests: "2",
            inputTokens: "10",
            outputTokens: "200",
          },
        ],
        total: {
          cost: { currencyCode: "USD", nanos: 3_030_000 },
          requests: "2",
          inputTokens: "10",
          outputTokens: "200",
        },
      },
    });
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({
      hasBudget: true,
      remaining: { currencyCode: "USD", nanos: 44_970_000 },
      usedFraction: 0.1006,
    });
    expect(refused).toMatchObject({ status: 403, json: { code: "permission_denied" } });
    expect(deleted).toEqual({ status: 200, json: { deleted: true } });
    expect(again).toEqual({ status: 200, json: {} });
    expect(gone).toEqual({ status: 200, json: {} });
    // Misspelt names are refused rather than ignored, which would answer a different question.
    expect(misspeltGroup).toMatchObject({ status: 400, json: { code: "invalid_argument" } });
    expect(misspeltGroup.json.message).toContain("SPEND_GROUP_MODLE");
    expect(misspeltField).toMatchObject({ status: 400, json: { code: "invalid_argument" } });
    expect(misspeltField.json.message).toContain("gruopBy");
  });
});
