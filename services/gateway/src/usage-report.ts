import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  UsageSchema,
  type ChatParams,
  type ChatResult,
  type GuardrailVerdict,
} from "@mesh/contracts/common/v1/chat_pb";
import { type CostLedgerService, UsageStatus } from "@mesh/contracts/ledger/v1/ledger_pb";
import type { MetricsService } from "@mesh/contracts/metrics/v1/metrics_pb";
import type { Logger } from "@mesh/logging";
import { usdFromNanos } from "@mesh/money";
import { activeTraceparent } from "@mesh/telemetry";
import { createUsageOutbox, type UsageOutbox, type UsageOutboxOptions } from "@mesh/outbox";
import { context, ROOT_CONTEXT } from "@opentelemetry/api";

export type { ObservationBatcher, UsageOutbox };
import type { GrpcClient, RpcError } from "@mesh/rpc";
import type { KeyIdentity } from "./api-keys.js";
import { errorType } from "./errors.js";
import { createObservationBatcher, type ObservationBatcher } from "./observation-batcher.js";
import { blockTexts, digestText, promptTexts } from "./redaction.js";

/** How a request ended, for the ledger row, the metrics observation and the log line. */
export interface Outcome {
  params: ChatParams | undefined;
  result?: ChatResult | undefined;
  error?: RpcError | undefined;
  status: UsageStatus;
  streamed: boolean;
  firstTokenHr?: number | undefined;
  verdicts: GuardrailVerdict[];
  /** The request was eligible for the response cache (a hit or a miss counts). */
  cacheable: boolean;
}

/** The parts of a request context a report needs. */
export interface ReportedRequest {
  requestId: string;
  identity: KeyIdentity;
  endpoint: string;
  startedAtMs: number;
  startedAtHr: number;
}

/** Sends one request's usage to the ledger and metrics and logs it, never holding it up. */
export type UsageReporter = (request: ReportedRequest, outcome: Outcome) => void;

/** Deadline of one RecordUsage call; a slower ledger counts as down and the record waits. */
const LEDGER_TIMEOUT_MS = 10_000;
/** Records per RecordUsageBatch call at most. */
const LEDGER_MAX_BATCH = 100;
/**
 * How long a usage record waits for others to share its call to the ledger. At one caller a
 * request takes about 10 ms, so 20 ms puts two or three records in a call; a record waiting
 * here is in memory only, as one in flight to the ledger is, and its submit has not resolved.
 */
const LEDGER_COALESCE_MS = 20;

/**
 * Opens the durable outbox in front of the ledger's RecordUsage and RecordUsageBatch on `dir`
 * (one process per folder). Build it once at start; `drain` then `close` it on shutdown,
 * after the requests.
 */
export function createLedgerOutbox(
  ledger: GrpcClient<typeof CostLedgerService>,
  options: Omit<UsageOutboxOptions, "send" | "sendBatch">,
): UsageOutbox {
  return createUsageOutbox({
    maxBatch: LEDGER_MAX_BATCH,
    coalesceMs: LEDGER_COALESCE_MS,
    ...options,
    send: async (record) => {
      const headers = { "x-request-id": record.requestId };
      await ledger.recordUsage({ record }, { headers, timeoutMs: LEDGER_TIMEOUT_MS });
    },
    sendBatch: async (records) => {
      // A batch belongs to no single request: its call starts a trace of its own rather than
      // joining that of whichever request's record came first.
      const { results } = await context.with(ROOT_CONTEXT, () =>
        ledger.recordUsageBatch({ records }, { timeoutMs: LEDGER_TIMEOUT_MS }),
      );
      return results;
    },
  });
}

/** Deadline of one RecordObservations call. */
const METRICS_TIMEOUT_MS = 10_000;

/**
 * Opens the batcher in front of the metrics service's RecordObservations: one call per batch
 * of finished requests instead of one per request. Build it once at start; `close` it on
 * shutdown, after the requests.
 */
export function createMetricsBatcher(
  metrics: GrpcClient<typeof MetricsService>,
  logger: Logger,
): ObservationBatcher {
  return createObservationBatcher({
    send: async (observations) => {
      await metrics.recordObservations({ observations }, { timeoutMs: METRICS_TIMEOUT_MS });
    },
    logger,
  });
}

/**
 * Builds the reporter: ledger rows go through the outbox (see createLedgerOutbox), so a ledger
 * outage loses none; observations go to the metrics batcher (see createMetricsBatcher).
 */
export function createUsageReporter(
  observations: ObservationBatcher,
  outbox: UsageOutbox,
  logger: Logger,
  digestKey: Uint8Array,
): UsageReporter {
  return (request, outcome) => {
    const finishedAtMs = Date.now();
    const latencySeconds = (performance.now() - request.startedAtHr) / 1000;
    const result = outcome.result;
    const usage = result?.usage ?? create(UsageSchema);
    const model = result?.model ?? "";
    const cacheHit = result?.cacheHit ?? false;

    const ledgerWrite = outbox.submit({
      requestId: request.requestId,
      tenant: request.identity.tenant,
      apiKeyId: request.identity.keyId,
      user: outcome.params?.metadata.user_id ?? "",
      modelRequested: outcome.params?.model ?? "",
      model,
      provider: result?.provider ?? "",
      deployment: result?.deployment ?? "",
      usage,
      cost: result?.cost ?? usdFromNanos(0n),
      latencyMs: Math.round(latencySeconds * 1000),
      status: outcome.status,
      cacheHit,
      startedAt: timestampFromMs(request.startedAtMs),
      finishedAt: timestampFromMs(finishedAtMs),
      endpoint: request.endpoint,
      reservationId: result?.reservationId ?? "",
      prices: cacheHit ? undefined : result?.prices,
      traceparent: activeTraceparent(),
    });
    ledgerWrite.catch((err: unknown) => {
      // Only a failed disk write or a closed outbox (a request finishing after shutdown) land
      // here; ledger outages are the outbox's to ride out.
      logger.error({ err: String(err), requestId: request.requestId }, "usage record not written");
    });

    observations.add({
      requestId: request.requestId,
      model,
      provider: result?.provider ?? "",
      endpoint: request.endpoint,
      errorType: outcome.error ? errorType(outcome.error) : "",
      latencySeconds,
      timeToFirstTokenSeconds: outcome.firstTokenHr
        ? (outcome.firstTokenHr - request.startedAtHr) / 1000
        : 0,
      usage: cacheHit ? create(UsageSchema) : usage,
      cost: result?.cost ?? usdFromNanos(0n),
      cacheHit,
      cacheable: outcome.cacheable,
      guardrails: outcome.verdicts.map((v) => ({ check: v.check, action: v.action })),
      streamed: outcome.streamed,
    });

    // Text never reaches the log: its length and a short digest are enough to match requests.
    logger.info(
      {
        requestId: request.requestId,
        tenant: request.identity.tenant,
        keyId: request.identity.keyId,
        endpoint: request.endpoint,
        status: UsageStatus[outcome.status]?.toLowerCase(),
        errorReason: outcome.error?.reason || undefined,
        model,
        streamed: outcome.streamed,
        cacheHit,
        latencyMs: Math.round(latencySeconds * 1000),
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        promptDigest: digestText(promptTexts(outcome.params), digestKey),
        answerDigest: digestText(blockTexts(result?.content ?? []), digestKey),
      },
      "request finished",
    );
  };
}
