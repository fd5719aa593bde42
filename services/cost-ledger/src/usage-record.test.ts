import { GrpcStatus, RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import { isTransientDatabaseError } from "./database-errors.js";
import { recordMessage, sampleRecord } from "./ledger.testkit.js";
import { isoFromMicros, usageRowFromRecord } from "./usage-record.js";

describe("usageRowFromRecord", () => {
  it("maps a complete record to a row", () => {
    const row = usageRowFromRecord(
      recordMessage(
        sampleRecord({
          requestId: "req-1",
          cost: { units: 1n, nanos: 5 },
          reservationId: "res-9",
          prices: {
            inputNanosPerMtok: 3_000_000_000n,
            outputNanosPerMtok: 15_000_000_000n,
            cacheReadNanosPerMtok: 300_000_000n,
            cacheWriteNanosPerMtok: 3_750_000_000n,
          },
        }),
      ),
    );

    expect(row).toEqual({
      requestId: "req-1",
      tenant: "acme",
      apiKeyId: "key-1",
      userId: "user-7",
      modelRequested: "claude-sonnet",
      model: "claude-sonnet-4",
      provider: "anthropic",
      deployment: "us-east",
      endpoint: "anthropic-messages",
      inputTokens: 1_000,
      outputTokens: 100,
      cacheReadTokens: 800,
      cacheWriteTokens: 200,
      reasoningTokens: 40,
      costNanos: 1_000_000_005n,
      currency: "USD",
      latencyMs: 812,
      status: "ok",
      cacheHit: false,
      startedAt: "2026-11-05T10:00:00.123000Z",
      finishedAt: "2026-11-05T10:00:00.935000Z",
      reservationId: "res-9",
      prices: {
        inputNanosPerMTok: 3_000_000_000n,
        outputNanosPerMTok: 15_000_000_000n,
        cacheReadNanosPerMTok: 300_000_000n,
        cacheWriteNanosPerMTok: 3_750_000_000n,
      },
    });
  });

  it("keeps prices unset when the caller sent none", () => {
    const row = usageRowFromRecord(recordMessage(sampleRecord()));

    expect(row.prices).toBeNull();
    expect(row.reservationId).toBe("");
  });

  it("takes a missing finish time as now and a missing start as finish minus latency", () => {
    const now = new Date("2026-11-05T10:00:02.000Z");
    const record = recordMessage(sampleRecord({ latencyMs: 1_500 }));
    record.startedAt = undefined;
    record.finishedAt = undefined;
    record.cost = undefined;

    const row = usageRowFromRecord(record, now);

    expect(row.finishedAt).toBe("2026-11-05T10:00:02.000000Z");
    expect(row.startedAt).toBe("2026-11-05T10:00:00.500000Z");
    expect(row.costNanos).toBe(0n);
  });

  it.each([
    [{ requestId: "" }, "record.request_id is required: the mesh's own request id"],
    [{ requestId: "r".repeat(201) }, "record.request_id has 201 characters; at most 200"],
    [{ tenant: "" }, "record.tenant is required"],
    [{ cost: { nanos: -1 } }, "record.cost is -0.000000001 USD; it must not be negative"],
    [{ cost: { units: 1n, nanos: -1 } }, "record.cost.units and record.cost.nanos must have"],
    [{ cost: { nanos: 1_000_000_000 } }, "record.cost.nanos is 1000000000; it must lie within"],
    [{ cost: { currencyCode: "EUR", units: 1n } }, 'currency_code is "EUR"; the ledger'],
    [
      { cost: { units: 9_223_372_037n } },
      "record.cost is 9223372037.000000000 USD; the ledger holds at most 9223372036.854775807",
    ],
    [{ status: 0 }, "record.status is 0; use OK, ERROR, BLOCKED or CANCELLED"],
    [{ model: "bad\u0000model" }, "record.model contains a NUL character"],
    [{ startedAt: { seconds: 253_402_300_800n } }, "record.started_at is outside 0001-01-01"],
    [{ reservationId: "x".repeat(201) }, "record.reservation_id has 201 characters"],
    [
      { prices: { inputNanosPerMtok: 1n, outputNanosPerMtok: -1n } },
      "record.prices.output_nanos_per_mtok is -1; prices must not be negative",
    ],
  ])("rejects %o with INVALID_ARGUMENT", (overrides, message) => {
    const record = recordMessage(sampleRecord(overrides));

    const attempt = () => usageRowFromRecord(record);

    expect(attempt).toThrow(RpcError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (err) {
      expect((err as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    }
  });

  it("rejects a missing record", () => {
    expect(() => usageRowFromRecord(undefined)).toThrow("record is required");
  });
});

describe("isoFromMicros", () => {
  it.each([
    [0n, "1970-01-01T00:00:00.000000Z"],
    [1n, "1970-01-01T00:00:00.000001Z"],
    [-1n, "1969-12-31T23:59:59.999999Z"],
    [1_793_872_800_123_456n, "2026-11-05T10:00:00.123456Z"],
  ])("renders %s µs as %s", (micros, iso) => {
    expect(isoFromMicros(micros)).toBe(iso);
  });
});

describe("isTransientDatabaseError", () => {
  it.each([
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), true],
    [Object.assign(new Error("terminating connection"), { code: "57P01" }), true],
    [Object.assign(new Error("connection failure"), { code: "08006" }), true],
    [new Error("Connection terminated unexpectedly"), true],
    [new Error("timeout exceeded when trying to connect"), true],
    [Object.assign(new Error("violates check constraint"), { code: "23514" }), false],
    [Object.assign(new Error("syntax error"), { code: "42601" }), false],
    ["not an error", false],
  ])("classifies %s as transient: %s", (err, transient) => {
    expect(isTransientDatabaseError(err)).toBe(transient);
  });
});
