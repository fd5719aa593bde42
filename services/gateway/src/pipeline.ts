import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  ChatResultSchema,
  ContentBlockSchema,
  GuardrailAction,
  StopReason,
  type ChatEvent,
  type ChatParams,
  type ChatResult,
  type ContentBlock,
  type GuardrailVerdict,
} from "@mesh/contracts/common/v1/chat_pb";
import { GuardrailsService } from "@mesh/contracts/guardrails/v1/guardrails_pb";
import { CostLedgerService, UsageStatus } from "@mesh/contracts/ledger/v1/ledger_pb";
import { MetricsService } from "@mesh/contracts/metrics/v1/metrics_pb";
import {
  OrchestratorService,
  type ModelInfo,
} from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import type { Logger } from "@mesh/logging";
import { formatUsd, moneyToNanos, usdFromNanos } from "@mesh/money";
import { createGrpcClient, GrpcStatus, RpcError, type GrpcClient } from "@mesh/rpc";
import { trace } from "@opentelemetry/api";
import { ExponentialBackoff, handleWhen, retry } from "cockatiel";
import { presentedKey, requireScope, type KeyIdentity } from "./api-keys.js";
import { cacheDirectives, type CacheDirectives } from "./cache-control.js";
import type { GatewayConfig } from "./config.js";
import { asRpcError, errorType, gatewayError } from "./errors.js";
import { createGuardrailChecks, type GateStep } from "./guardrail-checks.js";
import type { KeyStore } from "./key-store.js";
import type { LimitSnapshot, RequestLimits } from "./rate-limits.js";
import {
  isCallersId,
  newRequestId,
  normaliseRequestId,
  type RequestIdClaims,
} from "./request-id.js";
import { cacheKey, isCacheable, type ResponseCache } from "./response-cache.js";
import { chatEvent, replay, textBlock } from "./stream-replay.js";
import { allowedModels, type EffectivePolicy } from "./tenant-policy.js";
import {
  estimateTokens,
  usedTokens,
  type TokenLimits,
  type TokenReservation,
} from "./token-limits.js";
import { StreamTally } from "./stream-tally.js";
import { afterGrace } from "./upstream-signal.js";
import {
  createUsageReporter,
  type ObservationBatcher,
  type Outcome,
  type UsageOutbox,
} from "./usage-report.js";
import { validateChatParams } from "./validate.js";

// Feedback often follows its answer at once, while the answer's usage row is still on its way
// to the ledger (rows leave in batches): a row not found yet is asked for again, briefly.
const feedbackRetry = retry(
  handleWhen((err) => err instanceof RpcError && err.code === GrpcStatus.NOT_FOUND),
  { maxAttempts: 5, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 800 }) },
);

// How long a model call outlives its caller: a unary answer arriving within it is billed
// exactly, as is the prompt of a stream whose start event (model, prices, input) arrives.
const START_GRACE_MS = 2_000;

/** Where a request came in; a bounded label in metrics and the ledger. */
export type Endpoint = "anthropic-messages" | "openai-chat" | "grpc" | "connect";

/** One admitted request: who sent it, how, when, and what limits it met. */
export interface RequestContext {
  requestId: string;
  identity: KeyIdentity;
  policy: EffectivePolicy;
  endpoint: Endpoint;
  /** Filled as the request goes: requests at admission, tokens when they are reserved. */
  limits: LimitSnapshot;
  cache: CacheDirectives;
  /** "hit", "miss", or "bypass" when the cache was not consulted; set by chat/streamChat. */
  cacheStatus?: "hit" | "miss" | "bypass";
  /** Age of a cached answer served, in milliseconds. */
  cacheAgeMs?: number;
  startedAtMs: number;
  startedAtHr: number;
  signal?: AbortSignal;
}

/** Reads one request header (or gRPC metadata key), first value only. */
export type HeaderReader = (name: string) => string | undefined;

/** The request path every API of the gateway shares. */
export interface Pipeline {
  /**
   * Checks the key (inference scope) and the request limits; throws an RpcError the caller's
   * protocol can map (RateLimitError for a limit).
   */
  admit(header: HeaderReader, endpoint: Endpoint): Promise<RequestContext>;
  chat(ctx: RequestContext, params: ChatParams | undefined): Promise<ChatResult>;
  streamChat(ctx: RequestContext, params: ChatParams | undefined): AsyncGenerator<ChatEvent>;
  /** Scores an answer of the caller's tenant: on the ledger row and in ai_quality_score. */
  submitFeedback(
    ctx: RequestContext,
    feedback: { requestId: string; score: number; comment: string },
  ): Promise<{ model: string; duplicate: boolean }>;
  /** The catalog's models this key may use; any valid key may ask. */
  listModels(header: HeaderReader): Promise<ModelInfo[]>;
  close(): void;
}

/** What the pipeline is built from, besides the clients of the other services. */
export interface PipelineDeps {
  config: GatewayConfig;
  logger: Logger;
  keys: KeyStore;
  requestLimits: RequestLimits;
  tokenLimits: TokenLimits;
  cache: ResponseCache;
  /** Durable queue of ledger rows, drained on shutdown by the server. */
  usageOutbox: UsageOutbox;
  /** Batches metrics observations; closed on shutdown by the server. */
  observations: ObservationBatcher;
  /** Which callers' request ids were used already. */
  requestIds: RequestIdClaims;
}

/** Clients of the four internal services, built once and shared by every request. */
export interface MeshClients {
  orchestrator: GrpcClient<typeof OrchestratorService>;
  guardrails: GrpcClient<typeof GuardrailsService>;
  ledger: GrpcClient<typeof CostLedgerService>;
  metrics: GrpcClient<typeof MetricsService>;
}

/** Opens one client per internal service, from the configured addresses. */
export function createMeshClients(config: GatewayConfig): MeshClients {
  return {
    orchestrator: createGrpcClient(OrchestratorService, config.ORCHESTRATOR_ADDR, "gateway"),
    guardrails: createGrpcClient(GuardrailsService, config.GUARDRAILS_ADDR, "gateway"),
    ledger: createGrpcClient(CostLedgerService, config.LEDGER_ADDR, "gateway"),
    metrics: createGrpcClient(MetricsService, config.METRICS_ADDR, "gateway"),
  };
}

/** Where the cache stands for one request: its key (when cacheable) and a hit, if any. */
interface CacheLookup {
  key: string | undefined;
  hit: ChatResult | undefined;
}

/**
 * The shared request path: admit (key, scope, request limits) → validate → model allow-list →
 * cache → token reservation → input guardrails → orchestrator → output guardrails → cache
 * write, then the token reservation is settled to the real usage and the ledger row, metrics
 * observation and log line go out without holding up the caller.
 */
export function createPipeline(deps: PipelineDeps, clients: MeshClients): Pipeline {
  const { config, logger, keys, requestLimits, tokenLimits, cache } = deps;
  const upstreamOptions = { timeoutMs: config.UPSTREAM_TIMEOUT_MS };
  const guardrails = createGuardrailChecks(clients.guardrails, {
    timeoutMs: config.CHECK_TIMEOUT_MS,
    failureMode: config.GUARDRAILS_FAILURE_MODE,
    logger,
  });
  const reportUsage = createUsageReporter(
    deps.observations,
    deps.usageOutbox,
    logger,
    logDigestKey(config.LOG_DIGEST_KEY),
  );
  /** Annotates the request's span (cost, cache, verdicts; never text) and reports usage. */
  const report = (ctx: RequestContext, outcome: Outcome) => {
    const span = trace.getActiveSpan();
    if (span) {
      const result = outcome.result;
      span.setAttributes({
        "mesh.cache_hit": result?.cacheHit ?? false,
        "mesh.cost_usd": formatUsd(moneyToNanos(result?.cost)),
        "mesh.model": result?.model ?? "",
        "mesh.status": UsageStatus[outcome.status]?.toLowerCase() ?? "unspecified",
      });
      for (const v of outcome.verdicts) {
        span.addEvent("mesh.guardrail.verdict", {
          "mesh.guardrail.check": v.check,
          "mesh.guardrail.stage": v.stage,
          "mesh.guardrail.action": GuardrailAction[v.action]?.toLowerCase() ?? "unspecified",
          "mesh.guardrail.category": v.category,
          "mesh.guardrail.score": v.score,
        });
      }
    }
    reportUsage(ctx, outcome);
  };

  async function admit(header: HeaderReader, endpoint: Endpoint): Promise<RequestContext> {
    const startedAtHr = performance.now();
    let requestId = normaliseRequestId(header("x-request-id"));
    const span = trace.getActiveSpan();
    span?.setAttribute("mesh.request_id", requestId);

    let identity: KeyIdentity | undefined;
    try {
      identity = await keys.authenticate(presentedKey(header));
      requireScope(identity, "inference");
      span?.setAttribute("mesh.tenant", identity.tenant);
      span?.setAttribute("mesh.api_key_id", identity.keyId);

      const policy = await keys.policy(identity.tenant);
      const requests = await requestLimits.admit(identity, policy);
      // Claimed once the key is known and the request admitted, so that neither anonymous
      // nor refused traffic fills the store (and pushes older ids out of it).
      if (isCallersId(requestId) && !(await deps.requestIds.claim(requestId))) {
        requestId = newRequestId();
        span?.setAttribute("mesh.request_id", requestId);
        logger.info(
          { requestId, given: header("x-request-id") },
          "x-request-id used before; this request got a new id",
        );
      }
      return {
        requestId,
        identity,
        policy,
        endpoint,
        limits: { requests },
        cache: cacheDirectives(header),
        startedAtMs: Date.now(),
        startedAtHr,
      };
    } catch (err) {
      const refusal = asRpcError(err);
      const reason = refusal.reason || "internal";
      logger.info(
        { requestId, endpoint, reason, tenant: identity?.tenant, keyId: identity?.keyId },
        "request refused",
      );
      observeRefusal(requestId, endpoint, refusal, startedAtHr);
      throw err;
    }
  }

  /**
   * A request refused at the door (bad key, rate limit) reached no model and bills nothing,
   * but it is still counted in ai_requests_total and ai_errors_total by its type.
   */
  function observeRefusal(requestId: string, endpoint: Endpoint, err: RpcError, t0: number) {
    deps.observations.add({
      requestId,
      model: "",
      endpoint,
      errorType: errorType(err),
      latencySeconds: (performance.now() - t0) / 1000,
    });
  }

  /** Validation and the checks that depend on the key: tenant, key id, allowed models. */
  function prepare(ctx: RequestContext, raw: ChatParams | undefined): ChatParams {
    const params = validateChatParams(raw, config.REQUEST_MAX_MESSAGES);
    params.tenant = ctx.identity.tenant;
    params.apiKeyId = ctx.identity.keyId;

    const allowed = allowedModels(ctx.identity.allowedModels, ctx.policy.allowedModels);
    if (allowed && !allowed.includes(params.model)) {
      const list = allowed.length > 0 ? allowed.join(", ") : "none";
      throw gatewayError(
        GrpcStatus.PERMISSION_DENIED,
        "permission",
        params.model
          ? `model ${params.model} is not allowed for this API key; allowed: ${list}`
          : `this API key must name its model; allowed: ${list}`,
      );
    }
    return params;
  }

  async function lookUp(ctx: RequestContext, params: ChatParams): Promise<CacheLookup> {
    const { cache: directives, policy } = ctx;
    const cacheable = policy.cacheEnabled && isCacheable(params, directives.force) &&
      (directives.read || directives.write);
    if (!cacheable) {
      ctx.cacheStatus = "bypass";
      return { key: undefined, hit: undefined };
    }

    const key = cacheKey(ctx.identity.tenant, params);
    const found = directives.read ? await cache.get(key, directives.maxAgeMs) : undefined;
    ctx.cacheStatus = found ? "hit" : "miss";
    if (!found) return { key, hit: undefined };

    ctx.cacheAgeMs = found.ageMs;
    // A hit costs no provider tokens; the headers still show where the token limit stands.
    ctx.limits.tokens = await tokenLimits.peek(ctx.identity, ctx.policy);
    return { key, hit: asCacheHit(found.result, ctx.requestId) };
  }

  async function reserve(ctx: RequestContext, params: ChatParams): Promise<TokenReservation> {
    const estimate = estimateTokens(params, config.DEFAULT_MAX_TOKENS);
    const reservation = await tokenLimits.reserve(ctx.identity, ctx.policy, estimate);
    ctx.limits.tokens = reservation.window;
    return reservation;
  }

  /**
   * Starts the input guardrails at once, beside the cache lookup and the token reservation:
   * none needs another's answer, so the caller waits for the slowest instead of their sum.
   * The answer is dropped on a cache hit or a refused reservation.
   */
  function startInputCheck(caller: ReturnType<typeof checkCaller>, params: ChatParams) {
    const checking = guardrails.input(caller, params);
    // Awaited later, or never when the request ends first: don't let it go unhandled.
    checking.catch(() => undefined);
    return checking;
  }

  /** Gives back unused tokens off the caller's path; a Redis hiccup only costs accuracy. */
  function settle(ctx: RequestContext, reservation: TokenReservation | undefined, used: number) {
    reservation?.settle(used).catch((err: unknown) => {
      logger.warn({ err: String(err), requestId: ctx.requestId }, "token limit not settled");
    });
  }

  /** Stores an answer when the caller and its content allow it. */
  function store(ctx: RequestContext, key: string | undefined, result: ChatResult): void {
    if (!key || !ctx.cache.write) return;
    if (!isStorable(result)) return;
    void cache.set(key, result);
  }

  async function chat(ctx: RequestContext, raw: ChatParams | undefined): Promise<ChatResult> {
    const outcome = newOutcome(raw, false);
    let reservation: TokenReservation | undefined;
    try {
      const params = prepare(ctx, raw);
      outcome.params = params;

      const caller = checkCaller(ctx);
      const checking = startInputCheck(caller, params);
      const { key, hit } = await lookUp(ctx, params);
      outcome.cacheable = key !== undefined;
      if (hit) {
        outcome.result = hit;
        return hit;
      }

      reservation = await reserve(ctx, params);
      const input = await checking;
      outcome.verdicts.push(...input.verdicts);
      if (input.blocked) {
        outcome.status = UsageStatus.BLOCKED;
        throw input.blocked;
      }

      const upstream = afterGrace(ctx.signal, START_GRACE_MS);
      const answer = await clients.orchestrator.complete(
        { requestId: ctx.requestId, params: input.params },
        {
          ...upstreamOptions,
          signal: upstream.signal,
          headers: { "x-request-id": ctx.requestId },
        },
      ).finally(upstream.done);
      const result = answer.result ?? create(ChatResultSchema);
      result.requestId = ctx.requestId;
      outcome.result = result;
      // Answered after the caller left: billed in full, but nobody received it.
      if (ctx.signal?.aborted) outcome.status = UsageStatus.CANCELLED;

      const output = await guardrails.output(
        caller,
        params,
        result.content,
        input.redactionState,
      );
      outcome.verdicts.push(...output.verdicts);
      result.content = output.content;
      if (!output.allowed) {
        result.content = [];
        result.stopReason = StopReason.GUARDRAIL;
        outcome.status = UsageStatus.BLOCKED;
      }
      result.guardrails = outcome.verdicts;

      store(ctx, key, result);
      return result;
    } catch (err) {
      outcome.error = asRpcError(err);
      if (outcome.status === UsageStatus.OK) outcome.status = statusFor(outcome.error);
      throw outcome.error;
    } finally {
      settle(ctx, reservation, usedTokens(outcome.result?.usage));
      report(ctx, outcome);
    }
  }

  async function* streamChat(
    ctx: RequestContext,
    raw: ChatParams | undefined,
  ): AsyncGenerator<ChatEvent> {
    const outcome = newOutcome(raw, true);
    const tally = new StreamTally();
    const upstream = afterGrace(ctx.signal, START_GRACE_MS);
    let reservation: TokenReservation | undefined;
    let finished = false;
    try {
      const params = prepare(ctx, raw);
      outcome.params = params;

      const caller = checkCaller(ctx);
      const checking = startInputCheck(caller, params);
      const { key, hit } = await lookUp(ctx, params);
      outcome.cacheable = key !== undefined;
      if (hit) {
        outcome.result = hit;
        outcome.firstTokenHr = performance.now();
        yield* replay(hit);
        finished = true;
        return;
      }

      reservation = await reserve(ctx, params);
      const input = await checking;
      outcome.verdicts.push(...input.verdicts);
      if (input.blocked) {
        outcome.status = UsageStatus.BLOCKED;
        throw input.blocked;
      }

      const text: string[] = [];
      const toolUses: ContentBlock[] = [];
      const gate = guardrails.streamGate(caller, params, input.redactionState);
      let done: ChatResult | undefined;
      let stopped: GuardrailVerdict[] | undefined;
      const events = clients.orchestrator.streamComplete(
        { requestId: ctx.requestId, params: input.params },
        {
          ...upstreamOptions,
          signal: upstream.signal,
          headers: { "x-request-id": ctx.requestId },
        },
      );

      // Text is held back until guardrails have checked each sentence; only checked text
      // (redacted, placeholders restored) is sent, and a blocked sentence never is.
      const pass = (index: number, step: GateStep): ChatEvent | undefined => {
        outcome.verdicts.push(...step.verdicts);
        if (step.blocked) {
          stopped = step.blocked;
          return undefined;
        }
        if (step.release === "") return undefined;
        text[index] = (text[index] ?? "") + step.release;
        return chatEvent({ case: "textDelta", value: { index, text: step.release } });
      };
      const finishOpen = async function* (except?: number) {
        for (const index of gate.openBlocks()) {
          if (index === except || stopped) continue;
          const released = pass(index, await gate.finish(index));
          if (released) yield released;
        }
      };

      for await (const { event } of events) {
        if (!event) continue;
        switch (event.event.case) {
          case "start":
            event.event.value.requestId = ctx.requestId;
            tally.opened(event.event.value);
            upstream.endGrace();
            break;
          case "textDelta": {
            const { index, text: piece } = event.event.value;
            outcome.firstTokenHr ??= performance.now();
            tally.text(index, piece);
            yield* finishOpen(index);
            const released = pass(index, await gate.push(index, piece));
            if (released) yield released;
            break;
          }
          case "toolUse":
            outcome.firstTokenHr ??= performance.now();
            tally.toolUse(event.event.value);
            yield* finishOpen();
            toolUses.push(
              create(ContentBlockSchema, { block: { case: "toolUse", value: event.event.value } }),
            );
            break;
          case "error": {
            // What was produced before the failure is billed and counted.
            const failure = event.event.value;
            outcome.result = failure.partial;
            throw new RpcError(
              failure.code || GrpcStatus.UNAVAILABLE,
              failure.message || "the model stream failed; retry the request",
              failure.reason || "provider_error",
            );
          }
          case "done":
            done = event.event.value;
            continue;
        }
        if (stopped) break;
        if (event.event.case !== "textDelta") yield event;
      }
      if (!stopped) yield* finishOpen();

      if (stopped) {
        // The orchestrator's stream is cut here; what the model produced so far is billed.
        for (const verdict of stopped) yield chatEvent({ case: "guardrail", value: verdict });
        outcome.status = UsageStatus.BLOCKED;
        done ??= tally.partial() ?? create(ChatResultSchema);
        done.stopReason = StopReason.GUARDRAIL;
      }
      if (!done) {
        throw gatewayError(
          GrpcStatus.UNAVAILABLE,
          "provider_error",
          "the model stream ended early; retry the request",
        );
      }

      const content: ContentBlock[] = [
        ...text.filter((t) => t !== undefined).map(textBlock),
        ...toolUses,
      ];
      if (!stopped) {
        // Whole-answer checks: groundedness, structured output, tool calls.
        const output = await guardrails.output(caller, params, content, input.redactionState);
        const fresh = output.verdicts.filter((v) => WHOLE_ANSWER_CHECKS.has(v.check) ||
          toolUses.length > 0);
        outcome.verdicts.push(...fresh);
        for (const verdict of fresh) {
          if (verdict.action !== GuardrailAction.ALLOW) {
            yield chatEvent({ case: "guardrail", value: verdict });
          }
        }
        if (!output.allowed) {
          done.stopReason = StopReason.GUARDRAIL;
          outcome.status = UsageStatus.BLOCKED;
        }
      }

      done.requestId = ctx.requestId;
      done.guardrails = outcome.verdicts;
      outcome.result = { ...done, content };
      store(ctx, key, outcome.result);
      yield chatEvent({ case: "done", value: done });
      finished = true;
    } catch (err) {
      outcome.error = asRpcError(err);
      if (ctx.signal?.aborted) outcome.error = asRpcError(ctx.signal.reason ?? err);
      if (outcome.status === UsageStatus.OK) outcome.status = statusFor(outcome.error);
      throw outcome.error;
    } finally {
      upstream.done();
      if (!finished && !outcome.error) {
        // The consumer stopped reading: the caller hung up mid-stream.
        outcome.status = UsageStatus.CANCELLED;
        outcome.error = gatewayError(GrpcStatus.CANCELLED, "cancelled", "caller went away");
      }
      // A stream cut short (the caller hung up or the connection broke) is billed for what
      // the model produced before the cut.
      outcome.result ??= tally.partial();
      // Without any usage the tokens may well have been spent: keep the whole reservation.
      const used = outcome.result?.usage
        ? usedTokens(outcome.result.usage)
        : outcome.status === UsageStatus.CANCELLED ? (reservation?.reserved ?? 0) : 0;
      settle(ctx, reservation, used);
      report(ctx, outcome);
    }
  }

  async function listModels(header: HeaderReader): Promise<ModelInfo[]> {
    const identity = await keys.authenticate(presentedKey(header));
    const policy = await keys.policy(identity.tenant);
    const { models } = await clients.orchestrator.listModels({}, { timeoutMs: 5_000 });
    const allowed = allowedModels(identity.allowedModels, policy.allowedModels);
    return allowed ? models.filter((m) => allowed.includes(m.name)) : models;
  }

  async function submitFeedback(
    ctx: RequestContext,
    feedback: { requestId: string; score: number; comment: string },
  ) {
    const options = {
      timeoutMs: config.CHECK_TIMEOUT_MS,
      headers: { "x-request-id": ctx.requestId },
    };
    const scored = await feedbackRetry.execute(() =>
      clients.ledger.recordFeedback({ ...feedback, tenant: ctx.identity.tenant }, options),
    );
    if (!scored.duplicate) {
      // The comment stays in the ledger; metrics only count the score by model.
      await clients.metrics.submitFeedback(
        { requestId: feedback.requestId, score: feedback.score, model: scored.model },
        options,
      );
    }
    return { model: scored.model, duplicate: scored.duplicate };
  }

  return {
    admit,
    chat,
    streamChat,
    submitFeedback,
    listModels,
    close: () => {
      for (const client of Object.values(clients)) client.close();
    },
  };
}

/** Checks that judge the whole answer, run once the stream has ended. */
const WHOLE_ANSWER_CHECKS = new Set(["groundedness", "schema"]);

function newOutcome(params: ChatParams | undefined, streamed: boolean): Outcome {
  return { params, status: UsageStatus.OK, streamed, verdicts: [], cacheable: false };
}

function checkCaller(ctx: RequestContext) {
  return { requestId: ctx.requestId, tenant: ctx.identity.tenant, signal: ctx.signal };
}

/** Errors, blocked, refused and truncated answers are never served again. */
function isStorable(result: ChatResult): boolean {
  if (result.stopReason === StopReason.MAX_TOKENS) return false;
  if (result.stopReason === StopReason.GUARDRAIL) return false;
  if (result.stopReason === StopReason.REFUSAL) return false;
  return !result.guardrails.some((v) => v.action === GuardrailAction.BLOCK);
}

/** A cached answer served again: same content and usage, no provider cost, new request id. */
function asCacheHit(cached: ChatResult, requestId: string): ChatResult {
  return {
    ...cached,
    requestId,
    cacheHit: true,
    cost: usdFromNanos(0n),
    prices: undefined,
    reservationId: "",
  };
}

function statusFor(err: RpcError): UsageStatus {
  if (err.reason === "guardrail_blocked") return UsageStatus.BLOCKED;
  if (err.code === GrpcStatus.CANCELLED) return UsageStatus.CANCELLED;
  return UsageStatus.ERROR;
}

/**
 * The key of the digests in log lines. Set LOG_DIGEST_KEY (the same on every replica) to match
 * lines across replicas and restarts; without it each process draws its own.
 */
function logDigestKey(configured: string | undefined): Uint8Array {
  return configured ? Buffer.from(configured, "utf8") : randomBytes(32);
}
