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
import { createUsageOutbox, type UsageOutbox, type UsageOutboxOptions } from "@mesh/outbox";

export type { UsageOutbox };
import type { GrpcClient, RpcError } from "@mesh/rpc";
import type { KeyIdentity } from "./api-keys.js";
import { errorType } from "./errors.js";
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

/**
 * Opens the durable outbox in front of the ledger's RecordUsage on `dir` (one process per
 * folder). Build it once at start; `drain` then `close` it on shutdown, after the requests.
 */
export function createLedgerOutbox(
  ledger: GrpcClient<typeof CostLedgerService>,
  options: Omit<UsageOutboxOptions, "send">,
): UsageOutbox {
  return createUsageOutbox({
    ...options,
    send: async (record) => {
      const headers = { "x-request-id": record.requestId };
      await ledger.recordUsage({ record }, { headers, timeoutMs: LEDGER_TIMEOUT_MS });
    },
  });
}

/**
 * Builds the reporter: ledger rows go through the outbox (see createLedgerOutbox), so a ledger
 * outage loses none; observations go straight to the metrics client.
 */
export function createUsageReporter(
  clients: { metrics: GrpcClient<typeof MetricsService> },
  outbox: UsageOutbox,
  logger: Logger,
): UsageReporter {
  return (request, outcome) => {
    const finishedAtMs = Date.now();
    const latencySeconds = (performance.now() - request.startedAtHr) / 1000;
    const result = outcome.result;
    const usage = result?.usage ?? create(UsageSchema);
    const model = result?.model ?? "";
    const cacheHit = result?.cacheHit ?? false;
    const headers = { headers: { "x-request-id": request.requestId }, timeoutMs: 10_000 };

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
    });
    ledgerWrite.catch((err: unknown) => {
      // Only a failed disk write or a closed outbox (a request finishing after shutdown) land
      // here; ledger outages are the outbox's to ride out.
      logger.error({ err: String(err), requestId: request.requestId }, "usage record not written");
    });

    const observation = clients.metrics.recordObservation(
      {
        observation: {
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
        },
      },
      headers,
    );
    observation.catch((err: unknown) => {
      logger.warn({ err: String(err), requestId: request.requestId }, "metrics observation lost");
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
        promptDigest: digestText(promptTexts(outcome.params)),
        answerDigest: digestText(blockTexts(result?.content ?? [])),
      },
      "request finished",
    );
  };
}
