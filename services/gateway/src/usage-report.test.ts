import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CostLedgerService,
  type RecordUsageBatchRequest,
  type RecordUsageRequest,
  UsageStatus,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import { createLogger } from "@mesh/logging";
import type { UsageOutbox } from "@mesh/outbox";
import { type CallOptions, type GrpcClient, GrpcStatus, RpcError } from "@mesh/rpc";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ObservationBatcher, ObservationInput } from "./observation-batcher.js";
import { createLedgerOutbox, createUsageReporter, type UsageReporter } from "./usage-report.js";

const logger = createLogger("gateway-test", "silent");
const fastRetry = { retryInitialMs: 5, retryMaxMs: 20 };

let dir: string;
let outboxes: UsageOutbox[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gateway-outbox-"));
  outboxes = [];
});

afterEach(async () => {
  for (const outbox of outboxes) await outbox.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A ledger client stand-in: UNAVAILABLE while down, INVALID_ARGUMENT for refused ids (in the
 * record's result, for a batch).
 */
function stubLedger() {
  const ledger = {
    down: true,
    refused: new Set<string>(),
    /** Request id of every RecordUsage call, failed ones included. */
    calls: [] as string[],
    /** Request ids of every RecordUsageBatch call, failed ones included. */
    batches: [] as string[][],
    /** Request id of every record sent, by either call, in order. */
    sent: [] as string[],
    /** Request ids the ledger accepted, in order. */
    delivered: [] as string[],
    headerIds: [] as string[],
    client: {
      recordUsage: async (req: RecordUsageRequest, options?: CallOptions) => {
        const requestId = req.record?.requestId ?? "";
        ledger.calls.push(requestId);
        ledger.sent.push(requestId);
        ledger.headerIds.push(String(options?.headers?.["x-request-id"]));
        if (ledger.down) throw new RpcError(GrpcStatus.UNAVAILABLE, "ledger down", "unavailable");
        if (ledger.refused.has(requestId)) {
          throw new RpcError(GrpcStatus.INVALID_ARGUMENT, "bad record", "invalid_argument");
        }
        ledger.delivered.push(requestId);
        return {};
      },
      recordUsageBatch: async (req: RecordUsageBatchRequest) => {
        const ids = req.records.map((r) => r.requestId);
        ledger.batches.push(ids);
        ledger.sent.push(...ids);
        if (ledger.down) throw new RpcError(GrpcStatus.UNAVAILABLE, "ledger down", "unavailable");
        const results = ids.map((id) => {
          if (ledger.refused.has(id)) return { duplicate: false, invalid: "bad record" };
          ledger.delivered.push(id);
          return { duplicate: false, invalid: "" };
        });
        return { results };
      },
      close: () => {},
    } as unknown as GrpcClient<typeof CostLedgerService>,
  };
  return ledger;
}

/** A batcher stand-in that keeps what it is given. */
function stubObservations() {
  const added: ObservationInput[] = [];
  const batcher: ObservationBatcher = {
    add: (o) => void added.push(o),
    queued: () => added.length,
    close: async () => {},
  };
  return { added, batcher };
}

function open(
  ledger: ReturnType<typeof stubLedger>,
  observations = stubObservations(),
  coalesceMs = 0,
) {
  const outbox = createLedgerOutbox(ledger.client, { dir, logger, ...fastRetry, coalesceMs });
  outboxes.push(outbox);
  const digestKey = Buffer.from("test-digest-key");
  return { outbox, report: createUsageReporter(observations.batcher, outbox, logger, digestKey) };
}

function send(report: UsageReporter, requestId: string): void {
  const identity = { keyId: "key-1", tenant: "acme", scopes: [], allowedModels: [] };
  report(
    { requestId, identity, endpoint: "grpc", startedAtMs: Date.now(), startedAtHr: 0 },
    { params: undefined, status: UsageStatus.OK, streamed: false, verdicts: [], cacheable: false },
  );
}

describe("usage reporter through the outbox", () => {
  it("queues while the ledger is UNAVAILABLE, then delivers each once, in order", async () => {
    const ledger = stubLedger();
    ledger.refused.add("req-bad");
    const { outbox, report } = open(ledger);

    send(report, "req-1");
    const retries = () => ledger.calls.filter((id) => id === "req-1").length;
    // Retried: it is on disk, so the next ones queue behind it.
    await vi.waitFor(() => expect(retries()).toBeGreaterThanOrEqual(2));
    send(report, "req-2");
    send(report, "req-bad");
    send(report, "req-3");
    await vi.waitFor(() => expect(retries()).toBeGreaterThanOrEqual(4));
    expect(ledger.delivered).toEqual([]);
    expect(outbox.pending()).toBe(4);

    ledger.down = false;
    expect(await outbox.drain(2_000)).toBe(true);

    expect(ledger.delivered).toEqual(["req-1", "req-2", "req-3"]);
    // Queued records are sent only once the ones before them are through (those on disk by
    // then together); the invalid one once, refused alone.
    expect(ledger.sent.filter((id) => id !== "req-1")).toEqual(["req-2", "req-bad", "req-3"]);
    expect(ledger.batches.flat()).toEqual(ledger.sent.filter((id) => !ledger.calls.includes(id)));
    expect(ledger.headerIds).toEqual(ledger.calls);
    expect(outbox.pending()).toBe(0);
  });

  it("drops a record the ledger refuses as INVALID_ARGUMENT without retrying it", async () => {
    const ledger = stubLedger();
    ledger.down = false;
    ledger.refused.add("req-bad");
    const { outbox, report } = open(ledger);

    send(report, "req-bad");
    send(report, "req-4");
    await vi.waitFor(() => expect(ledger.calls).toEqual(["req-bad", "req-4"]));
    await vi.waitFor(() => expect(outbox.pending()).toBe(0));
    expect(ledger.batches).toEqual([]);

    expect(ledger.delivered).toEqual(["req-4"]);
    expect(outbox.pending()).toBe(0);
  });

  it("keeps queued records on disk across a restart and delivers them then", async () => {
    const ledger = stubLedger();
    const first = open(ledger);
    send(first.report, "req-5");
    await vi.waitFor(() => expect(first.outbox.pending()).toBe(1));
    send(first.report, "req-6");
    await vi.waitFor(() => expect(first.outbox.pending()).toBe(2));
    await first.outbox.close();

    ledger.down = false;
    const second = open(ledger);
    expect(await second.outbox.drain(2_000)).toBe(true);

    expect(ledger.delivered).toEqual(["req-5", "req-6"]);
  });

  it("hands each request's observation to the batcher as it finishes", async () => {
    const ledger = stubLedger();
    ledger.down = false;
    const observations = stubObservations();
    const { report } = open(ledger, observations);

    send(report, "req-7");
    send(report, "req-8");

    expect(observations.added.map((o) => o.requestId)).toEqual(["req-7", "req-8"]);
    expect(observations.added[0]).toMatchObject({
      model: "",
      provider: "",
      endpoint: "grpc",
      errorType: "",
      cacheHit: false,
      streamed: false,
      guardrails: [],
    });
    await vi.waitFor(() => expect(ledger.delivered).toEqual(["req-7", "req-8"]));
  });

  it("sends records that finish within a few ms in one RecordUsageBatch call", async () => {
    const ledger = stubLedger();
    ledger.down = false;
    ledger.refused.add("req-bad");
    const { outbox, report } = open(ledger, undefined, 20);

    send(report, "req-9");
    send(report, "req-bad");
    send(report, "req-10");
    expect(outbox.pending()).toBe(3);
    await vi.waitFor(() => expect(outbox.pending()).toBe(0));

    expect(ledger.batches).toEqual([["req-9", "req-bad", "req-10"]]);
    expect(ledger.calls).toEqual([]);
    expect(ledger.delivered).toEqual(["req-9", "req-10"]);
  });
});
