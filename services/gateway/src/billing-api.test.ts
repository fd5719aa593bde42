import { create } from "@bufbuild/protobuf";
import { QuerySpendRequestSchema } from "@mesh/contracts/gateway/v1/billing_pb";
import { createLogger } from "@mesh/logging";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import { parseStaticKeys } from "./api-keys.js";
import { createBillingHandlers, type BillingLedger } from "./billing-api.js";
import { createKeyStore } from "./key-store.js";
import { createMemoryKeyBackend } from "./key-store-memory.js";

const logger = createLogger("gateway-test", "silent");
const defaults = {
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  keyRequestsPerMinute: 0,
  keyTokensPerMinute: 0,
  cacheEnabled: true,
};

/** Billing handlers over a ledger whose every call fails with `failure`. */
async function handlersFailingWith(failure: unknown) {
  const keys = await createKeyStore({
    backend: createMemoryKeyBackend(),
    staticKeys: parseStaticKeys("reader-key=acme"),
    defaults,
    cacheTtlMs: 0,
    logger,
  });
  const fail = () => Promise.reject(failure);
  const ledger = {
    querySpend: fail,
    getBudgetStatus: fail,
    listReservations: fail,
    listBudgets: fail,
    setBudget: fail,
    deleteBudget: fail,
  } as unknown as BillingLedger;
  return createBillingHandlers(keys, ledger, logger);
}

const asReader = (name: string) => (name === "x-api-key" ? "reader-key" : undefined);

async function refusal(failure: unknown): Promise<RpcError> {
  const handlers = await handlersFailingWith(failure);
  const err = await handlers
    .querySpend(create(QuerySpendRequestSchema, {}), asReader)
    .then(() => undefined, (e: unknown) => e);
  if (!(err instanceof RpcError)) throw new Error(`expected an RpcError, got ${String(err)}`);
  return err;
}

describe("BillingService errors from the ledger", () => {
  it("keeps the ledger's code and message for a bad query, but not its trailers", async () => {
    const ledgerError = new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      "limit is 20000; at most 10000 are allowed",
      "invalid_spend_query",
    );
    ledgerError.trailers = { "x-internal": "ledger-pod-3" };

    const err = await refusal(ledgerError);

    expect([err.code, err.reason, err.message]).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "invalid_request",
      "limit is 20000; at most 10000 are allowed",
    ]);
    expect(err.trailers).toEqual({});
  });

  it("says the ledger is unavailable without its address", async () => {
    const err = await refusal(
      new RpcError(GrpcStatus.UNAVAILABLE, "connect ECONNREFUSED 10.0.0.7:50054"),
    );

    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.message).toBe(
      "the cost ledger is unavailable, could not query spend; retry in a few seconds",
    );
  });

  it("turns a ledger timeout into advice to narrow the query", async () => {
    const err = await refusal(new RpcError(GrpcStatus.DEADLINE_EXCEEDED, "Deadline exceeded"));

    expect(err.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(err.message).toBe(
      "the cost ledger did not query spend within 15 s; " +
        "narrow the query (tenant, since/until) or retry",
    );
  });

  it("keeps NOT_FOUND and the like as the ledger sent them", async () => {
    const err = await refusal(new RpcError(GrpcStatus.NOT_FOUND, "no such budget", "not_found"));

    expect([err.code, err.message, err.reason]).toEqual([
      GrpcStatus.NOT_FOUND,
      "no such budget",
      "",
    ]);
  });

  it("hides a ledger INTERNAL error's detail", async () => {
    const err = await refusal(new RpcError(GrpcStatus.INTERNAL, "relation usage_records ..."));

    expect([err.code, err.reason]).toEqual([GrpcStatus.INTERNAL, "internal"]);
    expect(err.message).toBe(
      "the cost ledger could not query spend (internal error); retry, and report it if it persists",
    );
  });
});
