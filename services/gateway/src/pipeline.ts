import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ChatEventSchema,
  ChatResultSchema,
  ContentBlockSchema,
  GuardrailAction,
  StopReason,
  UsageSchema,
  type ChatEvent,
  type ChatParams,
  type ChatResult,
  type ContentBlock,
  type GuardrailVerdict,
} from "@mesh/contracts/common/v1/chat_pb";
import { GuardrailsService } from "@mesh/contracts/guardrails/v1/guardrails_pb";
import { CostLedgerService, UsageStatus } from "@mesh/contracts/ledger/v1/ledger_pb";
import { MetricsService } from "@mesh/contracts/metrics/v1/metrics_pb";
import { OrchestratorService } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import type { Logger } from "@mesh/logging";
import { usdFromNanos } from "@mesh/money";
import { createGrpcClient, GrpcStatus, RpcError, type GrpcClient } from "@mesh/rpc";
import { trace } from "@opentelemetry/api";
import { presentedKey, type ApiKeyStore, type KeyIdentity } from "./api-keys.js";
import type { GatewayConfig } from "./config.js";
import { asRpcError, errorType, gatewayError } from "./errors.js";
import type { LimitState, RateLimits } from "./rate-limits.js";
import { cacheKey, isCacheable, type ResponseCache } from "./response-cache.js";
import { validateChatParams } from "./validate.js";

/** Where a request came in; a bounded label in metrics and the ledger. */
export type Endpoint = "anthropic-messages" | "grpc" | "connect";

/** One admitted request: who sent it, how, and when. */
export interface RequestContext {
  requestId: string;
  identity: KeyIdentity;
  endpoint: Endpoint;
  limits: LimitState;
  startedAtMs: number;
  startedAtHr: number;
  signal?: AbortSignal;
}

/** The request path every API of the gateway shares. */
export interface Pipeline {
  /** Checks the key and the rate limit; throws an RpcError the caller's protocol can map. */
  admit(header: (name: string) => string | undefined, endpoint: Endpoint): Promise<RequestContext>;
  chat(ctx: RequestContext, params: ChatParams | undefined): Promise<ChatResult>;
  streamChat(ctx: RequestContext, params: ChatParams | undefined): AsyncGenerator<ChatEvent>;
  close(): void;
}

export interface PipelineDeps {
  config: GatewayConfig;
  logger: Logger;
  keys: ApiKeyStore;
  limits: RateLimits;
  cache: ResponseCache;
}

/** Clients of the four internal services, built once and shared by every request. */
export interface MeshClients {
  orchestrator: GrpcClient<typeof OrchestratorService>;
  guardrails: GrpcClient<typeof GuardrailsService>;
  ledger: GrpcClient<typeof CostLedgerService>;
  metrics: GrpcClient<typeof MetricsService>;
}

export function createMeshClients(config: GatewayConfig): MeshClients {
  return {
    orchestrator: createGrpcClient(OrchestratorService, config.ORCHESTRATOR_ADDR, "gateway"),
    guardrails: createGrpcClient(GuardrailsService, config.GUARDRAILS_ADDR, "gateway"),
    ledger: createGrpcClient(CostLedgerService, config.LEDGER_ADDR, "gateway"),
    metrics: createGrpcClient(MetricsService, config.METRICS_ADDR, "gateway"),
  };
}

/** How a request ended, for the ledger row and the metrics observation. */
interface Outcome {
  params: ChatParams | undefined;
  result?: ChatResult;
  error?: RpcError;
  status: UsageStatus;
  streamed: boolean;
  firstTokenHr?: number;
  verdicts: GuardrailVerdict[];
}

const STREAM_REPLAY_CHUNK = 48;

export function createPipeline(deps: PipelineDeps, clients: MeshClients): Pipeline {
  const { config, logger, keys, limits, cache } = deps;
  const checkOptions = { timeoutMs: config.CHECK_TIMEOUT_MS };
  const upstreamOptions = { timeoutMs: config.UPSTREAM_TIMEOUT_MS };

  async function admit(header: (name: string) => string | undefined, endpoint: Endpoint) {
    const startedAtHr = performance.now();
    const requestId = normaliseRequestId(header("x-request-id"));
    trace.getActiveSpan()?.setAttribute("mesh.request_id", requestId);

    const identity = keys.authenticate(presentedKey(header));
    const state = await limits.consumeRequest(identity.keyId);
    trace.getActiveSpan()?.setAttribute("mesh.tenant", identity.tenant);
    return { requestId, identity, endpoint, limits: state, startedAtMs: Date.now(), startedAtHr };
  }

  /** Runs input guardrails; returns the params to send on (redacted) and the verdicts. */
  async function checkInput(ctx: RequestContext, params: ChatParams) {
    try {
      const checked = await clients.guardrails.checkInput(
        {
          requestId: ctx.requestId,
          tenant: ctx.identity.tenant,
          system: params.system,
          messages: params.messages,
        },
        { ...checkOptions, signal: ctx.signal },
      );
      if (!checked.allowed) {
        const blocking = checked.verdicts.filter((v) => v.action === GuardrailAction.BLOCK);
        const categories = [...new Set(blocking.map((v) => v.category || v.check))].join(", ");
        const err = gatewayError(
          GrpcStatus.INVALID_ARGUMENT,
          "guardrail_blocked",
          `request blocked by input guardrails (${categories}); rephrase the request`,
        );
        return { blocked: err, params, verdicts: checked.verdicts };
      }

      const redacted: ChatParams = { ...params, system: checked.system, messages: checked.messages };
      return { blocked: undefined, params: redacted, verdicts: checked.verdicts };
    } catch (err) {
      if (config.GUARDRAILS_FAILURE_MODE === "open") {
        logger.warn({ err: String(err) }, "input guardrails unavailable; failing open by policy");
        return { blocked: undefined, params, verdicts: [] };
      }
      throw gatewayError(
        GrpcStatus.UNAVAILABLE,
        "guardrails_unavailable",
        "safety checks are unavailable, so the request was refused; retry shortly",
      );
    }
  }

  async function checkOutput(ctx: RequestContext, params: ChatParams, content: ContentBlock[]) {
    try {
      return await clients.guardrails.checkOutput(
        { requestId: ctx.requestId, tenant: ctx.identity.tenant, content, hints: params.hints },
        { ...checkOptions, signal: ctx.signal },
      );
    } catch (err) {
      if (config.GUARDRAILS_FAILURE_MODE === "open") {
        logger.warn({ err: String(err) }, "output guardrails unavailable; failing open by policy");
        return { allowed: true, verdicts: [], content };
      }
      throw gatewayError(
        GrpcStatus.UNAVAILABLE,
        "guardrails_unavailable",
        "safety checks are unavailable, so the answer was withheld; retry shortly",
      );
    }
  }

  async function chat(ctx: RequestContext, raw: ChatParams | undefined): Promise<ChatResult> {
    const outcome: Outcome = { params: raw, status: UsageStatus.OK, streamed: false, verdicts: [] };
    try {
      const params = withTenant(validateChatParams(raw), ctx);
      outcome.params = params;

      const key = isCacheable(params) ? cacheKey(ctx.identity.tenant, params) : undefined;
      const cached = key ? await cache.get(key) : undefined;
      if (cached) {
        outcome.result = asCacheHit(cached, ctx.requestId);
        return outcome.result;
      }

      const input = await checkInput(ctx, params);
      outcome.verdicts.push(...input.verdicts);
      if (input.blocked) {
        outcome.status = UsageStatus.BLOCKED;
        throw input.blocked;
      }

      const answer = await clients.orchestrator.complete(
        { requestId: ctx.requestId, params: input.params },
        { ...upstreamOptions, signal: ctx.signal, headers: { "x-request-id": ctx.requestId } },
      );
      const result = answer.result ?? create(ChatResultSchema);
      result.requestId = ctx.requestId;

      const output = await checkOutput(ctx, params, result.content);
      outcome.verdicts.push(...output.verdicts);
      result.content = output.content;
      if (!output.allowed) {
        result.content = [];
        result.stopReason = StopReason.GUARDRAIL;
        outcome.status = UsageStatus.BLOCKED;
      }
      result.guardrails = outcome.verdicts;
      outcome.result = result;

      if (key && output.allowed && result.stopReason !== StopReason.MAX_TOKENS) {
        void cache.set(key, result);
      }
      return result;
    } catch (err) {
      outcome.error = asRpcError(err);
      if (outcome.status === UsageStatus.OK) outcome.status = statusFor(outcome.error);
      throw outcome.error;
    } finally {
      record(ctx, outcome);
    }
  }

  async function* streamChat(
    ctx: RequestContext,
    raw: ChatParams | undefined,
  ): AsyncGenerator<ChatEvent> {
    const outcome: Outcome = { params: raw, status: UsageStatus.OK, streamed: true, verdicts: [] };
    let finished = false;
    try {
      const params = withTenant(validateChatParams(raw), ctx);
      outcome.params = params;

      const key = isCacheable(params) ? cacheKey(ctx.identity.tenant, params) : undefined;
      const cached = key ? await cache.get(key) : undefined;
      if (cached) {
        outcome.result = asCacheHit(cached, ctx.requestId);
        outcome.firstTokenHr = performance.now();
        yield* replay(outcome.result);
        finished = true;
        return;
      }

      const input = await checkInput(ctx, params);
      outcome.verdicts.push(...input.verdicts);
      if (input.blocked) {
        outcome.status = UsageStatus.BLOCKED;
        throw input.blocked;
      }

      const text: string[] = [];
      const toolUses: ContentBlock[] = [];
      let done: ChatResult | undefined;
      const events = clients.orchestrator.streamComplete(
        { requestId: ctx.requestId, params: input.params },
        { ...upstreamOptions, signal: ctx.signal, headers: { "x-request-id": ctx.requestId } },
      );
      for await (const { event } of events) {
        if (!event) continue;
        switch (event.event.case) {
          case "start":
            event.event.value.requestId = ctx.requestId;
            break;
          case "textDelta":
            outcome.firstTokenHr ??= performance.now();
            text[event.event.value.index] = (text[event.event.value.index] ?? "") +
              event.event.value.text;
            break;
          case "toolUse":
            outcome.firstTokenHr ??= performance.now();
            toolUses.push(
              create(ContentBlockSchema, { block: { case: "toolUse", value: event.event.value } }),
            );
            break;
          case "done":
            done = event.event.value;
            continue;
        }
        yield event;
      }
      if (!done) {
        throw gatewayError(GrpcStatus.UNAVAILABLE, "provider_error", "the model stream ended early");
      }

      // TODO(#4): check at sentence boundaries while streaming, so blocked text is never sent.
      const content: ContentBlock[] = [
        ...text.filter((t) => t !== undefined).map(textBlock),
        ...toolUses,
      ];
      const output = await checkOutput(ctx, params, content);
      outcome.verdicts.push(...output.verdicts);
      for (const verdict of output.verdicts) {
        if (verdict.action !== GuardrailAction.ALLOW) {
          yield chatEvent({ case: "guardrail", value: verdict });
        }
      }
      if (!output.allowed) {
        done.stopReason = StopReason.GUARDRAIL;
        outcome.status = UsageStatus.BLOCKED;
      }

      done.requestId = ctx.requestId;
      done.guardrails = outcome.verdicts;
      outcome.result = { ...done, content };
      if (key && output.allowed && done.stopReason !== StopReason.MAX_TOKENS) {
        void cache.set(key, { ...done, content } as ChatResult);
      }
      yield chatEvent({ case: "done", value: done });
      finished = true;
    } catch (err) {
      outcome.error = asRpcError(err);
      if (ctx.signal?.aborted) outcome.error = asRpcError(ctx.signal.reason ?? err);
      if (outcome.status === UsageStatus.OK) outcome.status = statusFor(outcome.error);
      throw outcome.error;
    } finally {
      if (!finished && !outcome.error) {
        // The consumer stopped reading: the caller hung up mid-stream.
        outcome.status = UsageStatus.CANCELLED;
        outcome.error = gatewayError(GrpcStatus.CANCELLED, "cancelled", "caller went away");
      }
      record(ctx, outcome);
    }
  }

  /** Sends the ledger row and the metrics observation without holding up the caller. */
  function record(ctx: RequestContext, outcome: Outcome): void {
    const finishedAtMs = Date.now();
    const latencySeconds = (performance.now() - ctx.startedAtHr) / 1000;
    const result = outcome.result;
    const usage = result?.usage ?? create(UsageSchema);
    const model = result?.model ?? "";
    const cacheHit = result?.cacheHit ?? false;
    const headers = { headers: { "x-request-id": ctx.requestId }, timeoutMs: 10_000 };

    const ledgerWrite = clients.ledger.recordUsage(
      {
        record: {
          requestId: ctx.requestId,
          tenant: ctx.identity.tenant,
          apiKeyId: ctx.identity.keyId,
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
          startedAt: timestampFromMs(ctx.startedAtMs),
          finishedAt: timestampFromMs(finishedAtMs),
          endpoint: ctx.endpoint,
        },
      },
      headers,
    );
    ledgerWrite.catch((err: unknown) => {
      // TODO(#5): a durable outbox so a ledger outage loses no record.
      logger.error({ err: String(err), requestId: ctx.requestId }, "usage record not written");
    });

    const observation = clients.metrics.recordObservation(
      {
        observation: {
          requestId: ctx.requestId,
          model,
          provider: result?.provider ?? "",
          endpoint: ctx.endpoint,
          errorType: outcome.error ? errorType(outcome.error) : "",
          latencySeconds,
          timeToFirstTokenSeconds: outcome.firstTokenHr
            ? (outcome.firstTokenHr - ctx.startedAtHr) / 1000
            : 0,
          usage: cacheHit ? create(UsageSchema) : usage,
          cost: result?.cost ?? usdFromNanos(0n),
          cacheHit,
          cacheable: outcome.params?.temperature === 0,
          guardrails: outcome.verdicts.map((v) => ({ check: v.check, action: v.action })),
          streamed: outcome.streamed,
        },
      },
      headers,
    );
    observation.catch((err: unknown) => {
      logger.warn({ err: String(err), requestId: ctx.requestId }, "metrics observation lost");
    });
  }

  return {
    admit,
    chat,
    streamChat,
    close: () => {
      for (const client of Object.values(clients)) client.close();
    },
  };
}

function withTenant(params: ChatParams, ctx: RequestContext): ChatParams {
  params.tenant = ctx.identity.tenant;
  return params;
}

/** A cached answer served again: same content and usage, no provider cost, new request id. */
function asCacheHit(cached: ChatResult, requestId: string): ChatResult {
  return { ...cached, requestId, cacheHit: true, cost: usdFromNanos(0n) };
}

/** Replays a cached answer in the shape of a live stream. */
function* replay(result: ChatResult): Generator<ChatEvent> {
  yield chatEvent({
    case: "start",
    value: {
      requestId: result.requestId,
      model: result.model,
      provider: result.provider,
      usage: result.usage,
      routing: result.routing,
    },
  });

  let index = 0;
  for (const block of result.content) {
    if (block.block.case === "text") {
      const text = block.block.value.text;
      let at = 0;
      while (at < text.length) {
        const piece = sliceWhole(text, at, STREAM_REPLAY_CHUNK);
        at += piece.length;
        yield chatEvent({ case: "textDelta", value: { index, text: piece } });
      }
    } else if (block.block.case === "toolUse") {
      yield chatEvent({ case: "toolUse", value: block.block.value });
    }
    index++;
  }

  yield chatEvent({ case: "done", value: { ...result, content: [] } });
}

function chatEvent(value: MessageInitShape<typeof ChatEventSchema>["event"]): ChatEvent {
  return create(ChatEventSchema, { event: value });
}

/** A slice that never ends between the two halves of a surrogate pair. */
function sliceWhole(text: string, start: number, length: number): string {
  let end = Math.min(text.length, start + length);
  const last = text.charCodeAt(end - 1);
  if (end < text.length && last >= 0xd800 && last <= 0xdbff) end++;
  return text.slice(start, end);
}

function textBlock(text: string): ContentBlock {
  return create(ContentBlockSchema, { block: { case: "text", value: { text } } });
}

function statusFor(err: RpcError): UsageStatus {
  if (err.reason === "guardrail_blocked") return UsageStatus.BLOCKED;
  if (err.code === GrpcStatus.CANCELLED) return UsageStatus.CANCELLED;
  return UsageStatus.ERROR;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's request id when it is safe to log and store; otherwise makes one. */
function normaliseRequestId(given: string | undefined): string {
  if (given && REQUEST_ID.test(given)) return given;
  return `req_${randomUUID().replaceAll("-", "")}`;
}

