import { randomUUID } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  BudgetPeriod,
  ReservationState,
  SpendGroup,
  UsageStatus,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import { costNanos, moneyToNanos, usdFromNanos } from "@mesh/money";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freshSchemaName,
  metricValue,
  readRow,
  sampleRecord,
  SONNET_PRICES,
  startTestLedger,
  TEST_DATABASE_URL,
  type RunningLedger,
} from "./ledger.testkit.js";

const schema = freshSchemaName("ledger_budget");
const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
let ledger: RunningLedger;

beforeAll(async () => {
  ledger = await startTestLedger({ DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema });
});

afterAll(async () => {
  await ledger?.stop();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

const usd = usdFromNanos;
const nanos = (m: Parameters<typeof moneyToNanos>[0]) => moneyToNanos(m);
const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

async function rpcError(call: Promise<unknown>): Promise<RpcError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RpcError);
  return err as RpcError;
}

async function setDaily(tenant: string, limitNanos: bigint, extra: object = {}) {
  return ledger.client.setBudget({
    budget: { tenant, period: BudgetPeriod.DAY, limit: usd(limitNanos), ...extra },
  });
}

async function status(tenant: string, apiKeyId = "") {
  return ledger.client.getBudgetStatus({ tenant, apiKeyId });
}

describe("budgets: set, list, delete", () => {
  it("stores a budget exactly and lists it with its current UTC window", async () => {
    const tenant = uniq("set");

    const set = await ledger.client.setBudget({
      budget: {
        tenant,
        apiKeyId: "key-a",
        period: BudgetPeriod.MONTH,
        limit: { currencyCode: "USD", units: 12n, nanos: 345_678_901 },
        limitTokens: 50_000n,
        alertPercents: [100, 50, 50],
      },
    });
    const listed = await ledger.client.listBudgets({ tenant });
    const now = new Date();
    const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);

    expect(listed.budgets).toHaveLength(1);
    const state = listed.budgets[0]!;
    expect(state.budget).toMatchObject({
      tenant,
      apiKeyId: "key-a",
      period: BudgetPeriod.MONTH,
      limitTokens: 50_000n,
      alertPercents: [50, 100],
    });
    expect(nanos(state.budget?.limit)).toBe(12_345_678_901n);
    expect(Number(state.windowStart!.seconds) * 1000).toBe(monthStart);
    expect(Number(state.windowEnd!.seconds) * 1000).toBe(monthEnd);
    expect(nanos(state.remaining)).toBe(12_345_678_901n);
    expect(state.alertPercents).toEqual([50, 100]);
    expect(set.state?.usedFraction).toBe(0);
  });

  it("uses the default thresholds when a budget names none, and deletes budgets", async () => {
    const tenant = uniq("del");
    await setDaily(tenant, 1_000n);

    const before = await status(tenant);
    const deleted = await ledger.client.deleteBudget({ tenant, period: BudgetPeriod.DAY });
    const again = await ledger.client.deleteBudget({ tenant, period: BudgetPeriod.DAY });
    const after = await status(tenant);

    expect(before.budgets[0]?.alertPercents).toEqual([80, 100]);
    expect(before.hasBudget).toBe(true);
    expect([deleted.deleted, again.deleted]).toEqual([true, false]);
    expect(after).toMatchObject({ hasBudget: false, usedFraction: 0, budgets: [] });
  });

  it.each([
    ["no budget", {}, "budget is required"],
    [
      "no period",
      { budget: { tenant: "t", limit: usd(1n) } },
      "budget.period is required: BUDGET_PERIOD_DAY or _MONTH",
    ],
    [
      "no limit",
      { budget: { tenant: "t", period: BudgetPeriod.DAY } },
      "budget.limit is required (USD; 0 refuses every cost)",
    ],
    [
      "a negative limit",
      { budget: { tenant: "t", period: BudgetPeriod.DAY, limit: usd(-1n) } },
      "budget.limit is -0.000000001 USD; it must not be negative",
    ],
    [
      "a zero percent",
      { budget: { tenant: "t", period: BudgetPeriod.DAY, limit: usd(1n), alertPercents: [0] } },
      "budget.alert_percents has 0; each must be within 1..1000",
    ],
  ])("refuses %s with INVALID_ARGUMENT", async (_, req, message) => {
    const err = await rpcError(ledger.client.setBudget(req));

    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err.message).toBe(message);
  });

  it("starts a new budget from what the window already spent", async () => {
    const tenant = uniq("recount");
    const now = Date.now();
    await ledger.client.recordUsage({
      record: sampleRecord({
        tenant,
        cost: usd(700_000n),
        startedAt: timestampFromMs(now),
        finishedAt: timestampFromMs(now),
      }),
    });

    const set = await setDaily(tenant, 1_000_000n);

    expect(nanos(set.state?.spent)).toBe(700_000n);
    expect(nanos(set.state?.remaining)).toBe(300_000n);
    expect(set.state?.spentTokens).toBe(2_100n);
  });
});

describe("budgets: reserve, settle, release", () => {
  it("reserves nothing when no budget applies", async () => {
    const reply = await ledger.client.reserveBudget({
      requestId: uniq("req"),
      tenant: uniq("free"),
      amount: usd(5_000_000_000n),
    });

    expect(reply.reservationId).toBe("");
    expect(reply.remaining).toBeUndefined();
  });

  it("holds a reservation until released, then gives all of it back", async () => {
    const tenant = uniq("hold");
    await setDaily(tenant, 10_000_000n);

    const reserved = await ledger.client.reserveBudget({
      requestId: uniq("req"),
      tenant,
      apiKeyId: "key-1",
      model: "claude-sonnet-4",
      amount: usd(2_500_000n),
    });
    const during = await status(tenant, "key-1");
    const inFlight = await ledger.client.listReservations({ tenant });
    const released = await ledger.client.releaseBudget({ reservationId: reserved.reservationId });
    const twice = await ledger.client.releaseBudget({ reservationId: reserved.reservationId });
    const after = await status(tenant);

    expect(reserved.reservationId).not.toBe("");
    expect(nanos(reserved.remaining)).toBe(7_500_000n);
    expect(reserved.usedFraction).toBe(0.25);
    expect(Number(reserved.expiresAt!.seconds) * 1000).toBeGreaterThan(Date.now() + 590_000);
    expect(nanos(during.budgets[0]?.reserved)).toBe(2_500_000n);
    expect(inFlight.totalCount).toBe(1n);
    expect(nanos(inFlight.totalAmount)).toBe(2_500_000n);
    expect(inFlight.reservations[0]).toMatchObject({
      reservationId: reserved.reservationId,
      tenant,
      apiKeyId: "key-1",
      model: "claude-sonnet-4",
      state: ReservationState.HELD,
    });
    expect(released).toMatchObject({ released: true, state: ReservationState.RELEASED });
    expect(twice).toMatchObject({ released: false, state: ReservationState.RELEASED });
    expect(nanos(after.budgets[0]?.reserved)).toBe(0n);
    expect(nanos(after.budgets[0]?.spent)).toBe(0n);
  });

  it("refuses with budget_exceeded, naming the budget and what is left", async () => {
    const tenant = uniq("refuse");
    await setDaily(tenant, 1_000_000n);
    await ledger.client.reserveBudget({ requestId: uniq("req"), tenant, amount: usd(400_000n) });

    const err = await rpcError(
      ledger.client.reserveBudget({ requestId: uniq("req"), tenant, amount: usd(700_000n) }),
    );
    const day = new Date().toISOString().slice(0, 10);

    expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(err.reason).toBe("budget_exceeded");
    expect(err.message).toBe(
      `tenant "${tenant}" has $0.000600000 of its daily budget of $0.001000000 left ` +
        `(UTC day ${day}); this request needs up to $0.000700000. Wait for the next window ` +
        "or raise the budget",
    );
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(err.retryAfterMs).toBeLessThanOrEqual(86_400_000);
  });

  it("refuses a token count past 2^53-1 as the caller's error", async () => {
    const tenant = uniq("huge");
    await setDaily(tenant, 1_000_000n);

    const err = await rpcError(ledger.client.reserveBudget({
      requestId: uniq("req"),
      tenant,
      amount: usd(1n),
      tokens: 2n ** 64n - 1n,
    }));

    expect([err.code, err.reason, err.message]).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "invalid_reservation",
      "tokens is 18446744073709551615; at most 2^53-1 can be reserved",
    ]);
  });

  it("refuses a request bigger than the whole budget: no reservation, nothing spent", async () => {
    const tenant = uniq("small");
    await setDaily(tenant, 100_000n);

    const err = await rpcError(
      ledger.client.reserveBudget({ requestId: uniq("req"), tenant, amount: usd(100_001n) }),
    );
    const after = await status(tenant);
    const inFlight = await ledger.client.listReservations({ tenant });

    expect(err.reason).toBe("budget_exceeded");
    expect(err.retryAfterMs).toBeUndefined();
    expect(nanos(after.budgets[0]?.spent)).toBe(0n);
    expect(nanos(after.budgets[0]?.reserved)).toBe(0n);
    expect(inFlight.totalCount).toBe(0n);
  });

  it("settles at actual cost in the usage row's transaction and releases the rest", async () => {
    const tenant = uniq("settle");
    await setDaily(tenant, 10_000_000n);
    const requestId = uniq("req");
    const reserved = await ledger.client.reserveBudget({
      requestId,
      tenant,
      apiKeyId: "key-1",
      amount: usd(3_000_000n),
      tokens: 9_000n,
    });

    const record = sampleRecord({
      requestId,
      tenant,
      reservationId: reserved.reservationId,
      cost: usd(1_234_567n),
    });
    const first = await ledger.client.recordUsage({ record });
    const again = await ledger.client.recordUsage({ record });
    const after = await status(tenant);
    const release = await ledger.client.releaseBudget({ reservationId: reserved.reservationId });
    const row = await readRow(ledger.handle.pool, requestId);

    expect([first.duplicate, again.duplicate]).toEqual([false, true]);
    expect(nanos(after.budgets[0]?.spent)).toBe(1_234_567n);
    expect(nanos(after.budgets[0]?.reserved)).toBe(0n);
    // 1,000 input + 100 output + 800 cache read + 200 cache write
    expect(after.budgets[0]?.spentTokens).toBe(2_100n);
    expect(after.budgets[0]?.reservedTokens).toBe(0n);
    expect(release).toMatchObject({ released: false, state: ReservationState.SETTLED });
    expect(row?.cost_nanos).toBe("1234567");
  });

  it("bills a stream cut off after 40 output tokens for 40, status cancelled", async () => {
    const tenant = uniq("cut");
    await setDaily(tenant, 100_000_000n);
    const requestId = uniq("req");
    // Worst case: 1,000 prompt tokens + max_tokens 4,096 at sonnet prices.
    const worst = costNanos(
      { inputTokens: 1_000, outputTokens: 4_096, cacheReadTokens: 0, cacheWriteTokens: 0 },
      {
        inputNanosPerMTok: SONNET_PRICES.inputNanosPerMtok,
        outputNanosPerMTok: SONNET_PRICES.outputNanosPerMtok,
        cacheReadNanosPerMTok: SONNET_PRICES.cacheReadNanosPerMtok,
        cacheWriteNanosPerMTok: SONNET_PRICES.cacheWriteNanosPerMtok,
      },
    );
    const reserved = await ledger.client.reserveBudget({
      requestId,
      tenant,
      amount: usd(worst),
    });

    // 1,000 × $3/MTok + 40 × $15/MTok = 3,000,000 + 600,000 nano-dollars
    const actual = 3_600_000n;
    const reply = await ledger.client.recordUsage({
      record: sampleRecord({
        requestId,
        tenant,
        reservationId: reserved.reservationId,
        status: UsageStatus.CANCELLED,
        usage: { inputTokens: 1_000, outputTokens: 40 },
        cost: usd(actual),
        prices: SONNET_PRICES,
      }),
    });
    const row = await readRow(ledger.handle.pool, requestId);
    const after = await status(tenant);

    expect(worst).toBe(64_440_000n);
    expect(reply.duplicate).toBe(false);
    expect(row).toMatchObject({ status: "cancelled", output_tokens: "40", cost_nanos: "3600000" });
    expect(nanos(after.budgets[0]?.spent)).toBe(3_600_000n);
    expect(nanos(after.budgets[0]?.reserved)).toBe(0n);
  });

  it.each([
    ["error", UsageStatus.ERROR],
    ["blocked", UsageStatus.BLOCKED],
  ])("settles a %s row at its cost of 0, releasing the whole reservation", async (_, st) => {
    const tenant = uniq("zero");
    await setDaily(tenant, 5_000_000n);
    const requestId = uniq("req");
    const amount = usd(5_000_000n);
    const reserved = await ledger.client.reserveBudget({ requestId, tenant, amount });

    await ledger.client.recordUsage({
      record: sampleRecord({
        requestId,
        tenant,
        reservationId: reserved.reservationId,
        status: st,
        usage: {},
        cost: usd(0n),
      }),
    });
    const after = await status(tenant);

    expect(nanos(after.budgets[0]?.spent)).toBe(0n);
    expect(nanos(after.budgets[0]?.reserved)).toBe(0n);
    expect(nanos(after.remaining)).toBe(5_000_000n);
  });

  it("swaps a reservation atomically on fallback, and keeps the old one when refused", async () => {
    const tenant = uniq("swap");
    await setDaily(tenant, 2_500_000n);
    const requestId = uniq("req");
    const opus = await ledger.client.reserveBudget({
      requestId,
      tenant,
      model: "claude-opus-4",
      amount: usd(2_000_000n),
    });

    // 2.0 held + 1.0 would not fit in 2.5; the swap frees the 2.0 first.
    const sonnet = await ledger.client.reserveBudget({
      requestId,
      tenant,
      model: "claude-sonnet-4",
      amount: usd(1_000_000n),
      replacesReservationId: opus.reservationId,
    });
    const tooBig = await rpcError(
      ledger.client.reserveBudget({
        requestId,
        tenant,
        model: "claude-opus-4",
        amount: usd(3_000_000n),
        replacesReservationId: sonnet.reservationId,
      }),
    );
    const after = await status(tenant);
    const list = await ledger.client.listReservations({ tenant });
    const oldRelease = await ledger.client.releaseBudget({ reservationId: opus.reservationId });

    expect(nanos(sonnet.remaining)).toBe(1_500_000n);
    expect(tooBig.reason).toBe("budget_exceeded");
    expect(nanos(after.budgets[0]?.reserved)).toBe(1_000_000n);
    expect(list.reservations.map((r) => r.reservationId)).toEqual([sonnet.reservationId]);
    expect(oldRelease.state).toBe(ReservationState.REPLACED);
  });

  it("answers a retried reserve with its reservation, and refuses a different ask", async () => {
    const tenant = uniq("retry");
    await setDaily(tenant, 10_000_000n);
    const ask = { requestId: uniq("req"), tenant, model: "m", amount: usd(1_000_000n) };

    const first = await ledger.client.reserveBudget(ask);
    const second = await ledger.client.reserveBudget(ask);
    const different = await rpcError(
      ledger.client.reserveBudget({ ...ask, amount: usd(2_000_000n) }),
    );
    const after = await status(tenant);

    expect(second.reservationId).toBe(first.reservationId);
    expect(nanos(after.budgets[0]?.reserved)).toBe(1_000_000n);
    expect(different.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(different.reason).toBe("reservation_exists");
  });

  it("refuses a replacement of another request's reservation", async () => {
    const tenant = uniq("other");
    await setDaily(tenant, 10_000_000n);
    const mine = await ledger.client.reserveBudget({
      requestId: uniq("req"),
      tenant,
      amount: usd(1n),
    });

    const err = await rpcError(
      ledger.client.reserveBudget({
        requestId: uniq("req"),
        tenant,
        amount: usd(1n),
        replacesReservationId: mine.reservationId,
      }),
    );
    const unknown = await rpcError(ledger.client.releaseBudget({ reservationId: "nope" }));

    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(unknown.code).toBe(GrpcStatus.NOT_FOUND);
  });

  it("counts tokens against a token budget and names it when refusing", async () => {
    const tenant = uniq("tokens");
    await setDaily(tenant, 1_000_000_000n, { limitTokens: 10_000n });

    const ok = await ledger.client.reserveBudget({
      requestId: uniq("req"),
      tenant,
      amount: usd(1n),
      tokens: 6_000n,
    });
    const err = await rpcError(
      ledger.client.reserveBudget({
        requestId: uniq("req"),
        tenant,
        amount: usd(1n),
        tokens: 6_000n,
      }),
    );

    expect(ok.usedFraction).toBe(0.6);
    expect(err.reason).toBe("budget_exceeded");
    expect(err.message).toContain(
      `tenant "${tenant}" has 4000 of its daily budget of 10000 tokens left`,
    );
  });

  it("checks the key's budget and the tenant's, refusing on the tighter", async () => {
    const tenant = uniq("keys");
    await setDaily(tenant, 10_000_000n);
    await ledger.client.setBudget({
      budget: { tenant, apiKeyId: "key-small", period: BudgetPeriod.MONTH, limit: usd(1_000_000n) },
    });

    const otherKey = await ledger.client.reserveBudget({
      requestId: uniq("req"),
      tenant,
      apiKeyId: "key-big",
      amount: usd(2_000_000n),
    });
    const err = await rpcError(
      ledger.client.reserveBudget({
        requestId: uniq("req"),
        tenant,
        apiKeyId: "key-small",
        amount: usd(2_000_000n),
      }),
    );
    const keyStatus = await status(tenant, "key-small");

    expect(nanos(otherKey.remaining)).toBe(8_000_000n);
    expect(err.message).toMatch(
      new RegExp(`^API key "key-small" of tenant "${tenant}" has \\$0\\.001000000 of its monthly`),
    );
    expect(keyStatus.budgets.map((b) => b.budget?.apiKeyId)).toEqual(["", "key-small"]);
    expect(nanos(keyStatus.remaining)).toBe(1_000_000n);
  });

  it("counts a row without a reservation in the window the request started", async () => {
    const tenant = uniq("window");
    await setDaily(tenant, 10_000_000n);
    const now = Date.now();
    const yesterday = now - 86_400_000;

    for (const at of [now, yesterday]) {
      await ledger.client.recordUsage({
        record: sampleRecord({
          tenant,
          cost: usd(1_000_000n),
          startedAt: timestampFromMs(at),
          finishedAt: timestampFromMs(at),
        }),
      });
    }
    const today = await status(tenant);

    expect(nanos(today.budgets[0]?.spent)).toBe(1_000_000n);
  });

  it("releases a reservation whose caller vanished once its time to live ends", async () => {
    const shortSchema = freshSchemaName("ledger_ttl");
    const shortLived = await startTestLedger({
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: shortSchema,
      LEDGER_RESERVATION_TTL_MS: "1000",
    });
    try {
      const tenant = uniq("ttl");
      await shortLived.client.setBudget({
        budget: { tenant, period: BudgetPeriod.DAY, limit: usd(1_000_000n) },
      });
      const requestId = uniq("req");
      const held = await shortLived.client.reserveBudget({
        requestId,
        tenant,
        amount: usd(1_000_000n),
      });

      await new Promise((r) => setTimeout(r, 1_200));
      const after = await shortLived.client.getBudgetStatus({ tenant });
      const inFlight = await shortLived.client.listReservations({ tenant });
      const release = await shortLived.client.releaseBudget({ reservationId: held.reservationId });
      // A late usage row for the expired reservation is still billed.
      await shortLived.client.recordUsage({
        record: sampleRecord({
          requestId,
          tenant,
          reservationId: held.reservationId,
          cost: usd(250_000n),
          startedAt: timestampFromMs(Date.now()),
          finishedAt: timestampFromMs(Date.now()),
        }),
      });
      const billed = await shortLived.client.getBudgetStatus({ tenant });
      const metrics = await fetch(`http://127.0.0.1:${shortLived.handle.httpPort}/metrics`);

      expect(nanos(after.budgets[0]?.reserved)).toBe(0n);
      expect(inFlight.totalCount).toBe(0n);
      expect(release.state).toBe(ReservationState.EXPIRED);
      expect(nanos(billed.budgets[0]?.spent)).toBe(250_000n);
      expect(nanos(billed.budgets[0]?.reserved)).toBe(0n);
      expect(metricValue(await metrics.text(), "ai_budget_reservations_expired_total")).toBe(1);
    } finally {
      await shortLived.stop();
      await admin.query(`DROP SCHEMA IF EXISTS ${shortSchema} CASCADE`);
    }
  });
});

describe("budgets: metrics", () => {
  it("shows each budget's remaining money on /metrics by tenant, key and period", async () => {
    const tenant = uniq("gauge");
    await setDaily(tenant, 2_000_000_000n);
    await ledger.client.reserveBudget({
      requestId: uniq("req"),
      tenant,
      amount: usd(500_000_000n),
    });

    const page = await (await fetch(`http://127.0.0.1:${ledger.handle.httpPort}/metrics`)).text();
    const labels = `{tenant="${tenant}",api_key_id="",period="day"}`;

    expect(metricValue(page, `ai_budget_remaining_usd${labels}`)).toBe(1.5);
    expect(metricValue(page, `ai_budget_reserved_usd${labels}`)).toBe(0.5);
    expect(metricValue(page, `ai_budget_used_ratio${labels}`)).toBe(0.25);
    expect(page).toContain("# TYPE ai_budget_alerts_total counter");
  });
});

describe("spend queries", () => {
  it("groups spend by key, model and day, exactly, with a total", async () => {
    const tenant = uniq("spend");
    const day1 = Date.parse("2026-11-05T10:00:00Z");
    const day2 = Date.parse("2026-11-06T23:59:59.999Z");
    const rows = [
      { key: "k1", model: "claude-sonnet-4", at: day1, cost: 1_000_000_001n },
      { key: "k1", model: "claude-sonnet-4", at: day1, cost: 2n },
      { key: "k1", model: "claude-haiku-3", at: day2, cost: 30n },
      { key: "k2", model: "claude-sonnet-4", at: day2, cost: 400n },
    ];
    for (const r of rows) {
      await ledger.client.recordUsage({
        record: sampleRecord({
          tenant,
          apiKeyId: r.key,
          model: r.model,
          cost: usd(r.cost),
          startedAt: timestampFromMs(r.at),
          finishedAt: timestampFromMs(r.at),
        }),
      });
    }

    const byAll = await ledger.client.querySpend({
      tenant,
      groupBy: [SpendGroup.DAY, SpendGroup.API_KEY, SpendGroup.MODEL],
    });
    const byKey = await ledger.client.querySpend({
      tenant,
      groupBy: [SpendGroup.API_KEY],
      limit: 1,
    });
    const onlyK2 = await ledger.client.querySpend({ tenant, apiKeyId: "k2" });

    const flat = byAll.rows.map((r) => [r.apiKeyId, r.model, r.day, nanos(r.cost), r.requests]);
    expect(flat).toEqual([
      ["k1", "claude-haiku-3", "2026-11-06", 30n, 1n],
      ["k1", "claude-sonnet-4", "2026-11-05", 1_000_000_003n, 2n],
      ["k2", "claude-sonnet-4", "2026-11-06", 400n, 1n],
    ]);
    expect(byAll.rows[0]?.tenant).toBe("");
    expect(nanos(byAll.total?.cost)).toBe(1_000_000_433n);
    expect(byAll.total?.requests).toBe(4n);
    expect(byAll.total?.cacheReadTokens).toBe(3_200n);
    expect(byAll.total?.reasoningTokens).toBe(160n);
    expect(byAll.truncated).toBe(false);
    expect(byKey.rows.map((r) => [r.apiKeyId, nanos(r.cost)])).toEqual([["k1", 1_000_000_033n]]);
    expect(byKey.truncated).toBe(true);
    expect(onlyK2.rows.map((r) => nanos(r.cost))).toEqual([400n]);
  });

  it("groups spend by how requests ended, so cut and blocked streams show apart", async () => {
    const tenant = uniq("status");
    const ended = [
      { status: UsageStatus.OK, cost: 1_500n },
      { status: UsageStatus.CANCELLED, cost: 600n },
      { status: UsageStatus.CANCELLED, cost: 40n },
      { status: UsageStatus.BLOCKED, cost: 255n },
      { status: UsageStatus.ERROR, cost: 0n },
    ];
    for (const e of ended) {
      await ledger.client.recordUsage({
        record: sampleRecord({ tenant, status: e.status, cost: usd(e.cost) }),
      });
    }

    const byStatus = await ledger.client.querySpend({ tenant, groupBy: [SpendGroup.STATUS] });

    expect(byStatus.rows.map((r) => [r.status, nanos(r.cost), r.requests])).toEqual([
      ["blocked", 255n, 1n],
      ["cancelled", 640n, 2n],
      ["error", 0n, 1n],
      ["ok", 1_500n, 1n],
    ]);
    expect(byStatus.total?.status).toBe("");
    expect(nanos(byStatus.total?.cost)).toBe(2_395n);
  });

  it("refuses an unknown group and a limit past 10,000", async () => {
    const group = await rpcError(ledger.client.querySpend({ groupBy: [SpendGroup.UNSPECIFIED] }));
    const limit = await rpcError(ledger.client.querySpend({ limit: 10_001 }));

    expect(group.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(limit.message).toBe("limit is 10001; at most 10000 are allowed");
  });

  it("refuses a range out of the calendar or backwards, as a bad spend query", async () => {
    const at = (seconds: bigint) => ({ seconds, nanos: 0 });
    const outside = await rpcError(ledger.client.querySpend({ since: at(-62_135_596_801n) }));
    const backwards = await rpcError(ledger.client.querySpend({
      since: at(1_767_225_600n),
      until: at(1_767_139_200n),
    }));

    expect([outside.code, outside.reason, outside.message]).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "invalid_spend_query",
      "since is outside 0001-01-01..9999-12-31 or has nanos outside 0..999999999",
    ]);
    expect([backwards.reason, backwards.message]).toEqual([
      "invalid_spend_query",
      "since (2026-01-01T00:00:00.000000Z) is after until (2025-12-31T00:00:00.000000Z); " +
        "the range is [since, until)",
    ]);
  });
});
