import { randomUUID } from "node:crypto";
import { SpendGroup } from "@mesh/contracts/ledger/v1/ledger_pb";
import { costNanos, moneyToNanos, usdFromNanos, type TokenCounts } from "@mesh/money";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freshSchemaName,
  sampleRecord,
  SONNET_PRICES,
  startTestLedger,
  TEST_DATABASE_URL,
  type RunningLedger,
} from "./ledger.testkit.js";

// Cost is computed by the orchestrator (costNanos) and recorded as sent; the ledger keeps the
// prices beside it, so each row can be re-priced and a later price change rewrites nothing.
const schema = freshSchemaName("ledger_pricing");
let ledger: RunningLedger;

beforeAll(async () => {
  ledger = await startTestLedger({ DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema });
});

afterAll(async () => {
  await ledger.handle.pool.query(`DROP SCHEMA ${schema} CASCADE`);
  await ledger.stop();
});

interface StoredCost {
  cost_nanos: string;
  repriced_nanos: string;
  output_tokens: string;
  reasoning_tokens: string;
  input_nanos_per_mtok: string;
  output_nanos_per_mtok: string;
}

// The row's cost, and its cost recomputed in SQL from the prices stored with it.
async function storedCost(requestId: string): Promise<StoredCost> {
  const result = await ledger.handle.pool.query<StoredCost>(
    `SELECT cost_nanos::text, output_tokens::text, reasoning_tokens::text,
            input_nanos_per_mtok::text, output_nanos_per_mtok::text,
            div((input_tokens * input_nanos_per_mtok + output_tokens * output_nanos_per_mtok
                 + cache_read_tokens * cache_read_nanos_per_mtok
                 + cache_write_tokens * cache_write_nanos_per_mtok)::numeric + 500000,
                1000000)::text AS repriced_nanos
       FROM usage_records WHERE request_id = $1`,
    [requestId],
  );
  return result.rows[0]!;
}

async function record(
  tenant: string,
  tokens: TokenCounts & { reasoningTokens?: number },
  prices = SONNET_PRICES,
) {
  const requestId = `req-${randomUUID()}`;
  const cost = costNanos(tokens, {
    inputNanosPerMTok: prices.inputNanosPerMtok,
    outputNanosPerMTok: prices.outputNanosPerMtok,
    cacheReadNanosPerMTok: prices.cacheReadNanosPerMtok,
    cacheWriteNanosPerMTok: prices.cacheWriteNanosPerMtok,
  });
  await ledger.client.recordUsage({
    record: sampleRecord({ requestId, tenant, usage: tokens, cost: usdFromNanos(cost), prices }),
  });
  return { requestId, cost };
}

const noCache = { cacheReadTokens: 0, cacheWriteTokens: 0 };

describe("costs to the nano-dollar", () => {
  it.each([
    // 1,000 × $3 + 100 × $15 per MTok = $0.003 + $0.0015
    ["1,000 input + 100 output", { ...noCache, reasoningTokens: 0 }, 4_500_000n],
    // + 800 × $0.30 + 200 × $3.75 per MTok = + $0.00024 + $0.00075
    [
      "with 800 cache-read and 200 cache-write",
      { cacheReadTokens: 800, cacheWriteTokens: 200, reasoningTokens: 0 },
      5_490_000n,
    ],
    // 40 of the 100 output tokens were reasoning: a breakdown, billed once as output.
    ["with 40 reasoning tokens inside the output", { ...noCache, reasoningTokens: 40 }, 4_500_000n],
  ])("records %s exactly, with the prices that made it", async (_, extra, expected) => {
    const tenant = `cost-${randomUUID().slice(0, 8)}`;
    const tokens = { inputTokens: 1_000, outputTokens: 100, ...extra };

    const { requestId, cost } = await record(tenant, tokens);
    const row = await storedCost(requestId);
    const spend = await ledger.client.getSpend({ tenant });

    expect(cost).toBe(expected);
    expect(row.cost_nanos).toBe(expected.toString());
    expect(row.repriced_nanos).toBe(expected.toString());
    expect(row.output_tokens).toBe("100");
    expect(row.reasoning_tokens).toBe(String(extra.reasoningTokens));
    expect(moneyToNanos(spend.total)).toBe(expected);
  });

  it("keeps each row's prices when the catalog price changes later", async () => {
    const tenant = `price-${randomUUID().slice(0, 8)}`;
    const tokens = { inputTokens: 1_000, outputTokens: 100, ...noCache };
    const raised = { ...SONNET_PRICES, outputNanosPerMtok: 18_000_000_000n };

    const before = await record(tenant, tokens);
    const after = await record(tenant, tokens, raised);
    const oldRow = await storedCost(before.requestId);
    const newRow = await storedCost(after.requestId);
    const byModel = await ledger.client.querySpend({ tenant, groupBy: [SpendGroup.MODEL] });

    expect(oldRow).toMatchObject({ cost_nanos: "4500000", output_nanos_per_mtok: "15000000000" });
    // 1,000 × $3 + 100 × $18 per MTok
    expect(newRow).toMatchObject({ cost_nanos: "4800000", output_nanos_per_mtok: "18000000000" });
    expect(byModel.rows.map((r) => [r.model, moneyToNanos(r.cost), r.requests])).toEqual([
      ["claude-sonnet-4", 9_300_000n, 2n],
    ]);
  });
});
