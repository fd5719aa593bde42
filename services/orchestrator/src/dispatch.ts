import {
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from "@opentelemetry/api";
import { StopReason, type ChatParams } from "@mesh/contracts/common/v1/chat_pb";
import type { Logger } from "@mesh/logging";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import type { CatalogDeployment, CatalogModel } from "./catalog.js";
import type { ProviderRegistry } from "./providers/registry.js";
import {
  asProviderError,
  emptyUsage,
  ProviderError,
  type ProviderEvent,
  type ProviderRequest,
  type ProviderResult,
  type TokenUsage,
} from "./providers/types.js";
import type { Resilience } from "./resilience.js";
import type { RouteCandidate, RoutePlan, SkippedRoute } from "./routing.js";

const TRACER = "orchestrator";

/** What the orchestrator tells about how a request was routed, once it is served. */
export interface RoutingOutcome {
  model: string;
  tier: string;
  reason: string;
  skipped: SkippedRoute[];
  /** Every try in order: "claude-sonnet-4@anthropic: overloaded (529)", "...: ok". */
  attempts: string[];
}

/** The model and deployment that answered. */
export interface Served {
  model: CatalogModel;
  deployment: CatalogDeployment;
  maxTokens: number;
}

/** One request as the dispatcher needs it. */
export interface DispatchRequest {
  requestId: string;
  params: ChatParams;
  plan: RoutePlan;
  signal?: AbortSignal;
  /** Trace context of the orchestrator's server span; attempt spans are its children. */
  parent: Context;
}

/** A streamed answer: `opened` once (after the first output), then provider events. */
export type DispatchEvent =
  | { type: "opened"; served: Served; routing: RoutingOutcome; upstreamModel: string;
    usage: TokenUsage }
  | Exclude<ProviderEvent, { type: "start" }>;

interface Attempt {
  candidate: RouteCandidate;
  deployment: CatalogDeployment;
  span: Span;
  request: ProviderRequest;
}

/**
 * Tries the plan's models in order, each deployment through Resilience (retries, breaker),
 * and falls back after a deployment gives up. Every try is its own CLIENT span named
 * "chat <model>" with GenAI attributes, a sibling under the server span.
 */
export class Dispatcher {
  private readonly tracer = trace.getTracer(TRACER);

  constructor(
    private readonly providers: ProviderRegistry,
    private readonly resilience: Resilience,
    private readonly logger: Logger,
  ) {}

  /** Answers in full, falling back across models until one succeeds. */
  async complete(req: DispatchRequest) {
    const { value, served, routing } = await this.chain(req, false, async (attempt) => {
      const provider = this.providerOf(attempt.deployment);
      const result = await provider.complete(attempt.request);
      finishSpan(attempt.span, result.upstreamModel, result.stopReason, result.usage);
      return result;
    });
    return { result: value as ProviderResult, served, routing };
  }

  /**
   * Streams an answer. Fallback happens only before the first output (text, tool call or
   * the end) reaches the caller; after that a failure ends the stream with an RpcError.
   */
  async *stream(req: DispatchRequest): AsyncGenerator<DispatchEvent> {
    const { value, served, routing } = await this.chain(req, true, async (attempt) => {
      const provider = this.providerOf(attempt.deployment);
      const iterator = provider.stream(attempt.request)[Symbol.asyncIterator]();
      const buffered: ProviderEvent[] = [];
      try {
        // Pull until the first event that commits us to this deployment.
        for (;;) {
          const next = await iterator.next();
          if (next.done) throw new ProviderError("connection", "the stream ended with no events");
          buffered.push(next.value);
          if (next.value.type !== "start") break;
        }
      } catch (err) {
        await iterator.return?.(undefined).catch(() => undefined);
        throw err;
      }
      return { iterator, buffered, span: attempt.span };
    });

    const { iterator, buffered, span } = value as {
      iterator: AsyncIterator<ProviderEvent>;
      buffered: ProviderEvent[];
      span: Span;
    };
    const start = buffered[0]?.type === "start" ? buffered.shift() : undefined;
    let usage: TokenUsage = start?.type === "start" ? start.usage : emptyUsage();
    const upstreamModel = start?.type === "start"
      ? start.upstreamModel
      : served.deployment.upstreamModel;
    yield { type: "opened", served, routing, upstreamModel, usage };

    let finished = false;
    try {
      for (const event of buffered) {
        if (event.type === "stop") {
          finished = true;
          usage = event.usage;
          finishSpan(span, upstreamModel, event.stopReason, event.usage);
        }
        if (event.type !== "start") yield event;
      }
      while (!finished) {
        const next = await iterator.next();
        if (next.done) throw new ProviderError("connection", "the stream ended before its end");
        const event = next.value;
        if (event.type === "start") continue;
        if (event.type === "stop") {
          finished = true;
          usage = event.usage;
          finishSpan(span, upstreamModel, event.stopReason, event.usage);
        }
        yield event;
      }
    } catch (err) {
      const failure = asProviderError(err);
      failSpan(span, failure);
      this.logger.warn(
        { requestId: req.requestId, deployment: served.deployment.id, error: failure.outcome },
        "stream failed after output began; not falling back",
      );
      if (failure.kind === "cancelled") {
        throw new RpcError(GrpcStatus.CANCELLED, "the caller cancelled the stream", "cancelled");
      }
      throw new RpcError(
        GrpcStatus.UNAVAILABLE,
        `${served.deployment.id} failed after the answer began (${failure.outcome}); the ` +
          "partial answer is incomplete, retry the request",
        "stream_interrupted",
      );
    } finally {
      if (!finished) await iterator.return?.(undefined).catch(() => undefined);
      span.end();
    }
  }

  private providerOf(deployment: CatalogDeployment) {
    const provider = this.providers.get(deployment.id);
    if (!provider) throw new ProviderError("not_found", `no provider built for ${deployment.id}`);
    return provider;
  }

  /**
   * The fallback chain: for each candidate model, each active deployment, run `work` under
   * Resilience. keepSpan leaves a successful attempt's span open for the caller to end.
   */
  private async chain(
    req: DispatchRequest,
    keepSpan: boolean,
    work: (attempt: Attempt) => Promise<unknown>,
  ): Promise<{ value: unknown; served: Served; routing: RoutingOutcome }> {
    const { plan, params } = req;
    const attempts: string[] = [];
    const skipped = [...plan.skipped];
    const failures: Array<{ model: string; error: ProviderError }> = [];
    // After a context-length error only models with a larger window are worth trying.
    let minWindow = 0;

    for (const candidate of plan.candidates) {
      const { model } = candidate;
      if (model.contextWindow <= minWindow) {
        skipped.push({ model: model.name, reason: `context window ${model.contextWindow} is ` +
          "no larger than that of a model that rejected the prompt as too long" });
        continue;
      }

      for (const deployment of model.active) {
        try {
          const value = await this.resilience.run(
            deployment.id,
            async (tryNumber) => {
              const span = this.startSpan(req, candidate, deployment, tryNumber);
              const request: ProviderRequest = {
                params,
                upstreamModel: deployment.upstreamModel,
                maxTokens: candidate.maxTokens,
                model: model.name,
                signal: req.signal,
              };
              try {
                const result = await work({ candidate, deployment, span, request });
                attempts.push(`${deployment.id}: ok`);
                if (!keepSpan) span.end();
                return result;
              } catch (err) {
                const failure = asProviderError(err);
                attempts.push(`${deployment.id}: ${failure.outcome}`);
                failSpan(span, failure);
                span.end();
                throw failure;
              }
            },
            { signal: req.signal, onWait: (ms) => this.noteWait(req, deployment, ms) },
          );

          const served: Served = { model, deployment, maxTokens: candidate.maxTokens };
          const routing = this.outcome(plan, served, skipped, attempts, failures);
          return { value, served, routing };
        } catch (err) {
          const failure = asProviderError(err);
          if (failure.kind === "circuit_open") attempts.push(`${deployment.id}: circuit open`);
          failures.push({ model: model.name, error: failure });
          this.logger.warn(
            { requestId: req.requestId, deployment: deployment.id, error: failure.outcome },
            "deployment failed; trying the next",
          );

          if (failure.kind === "cancelled" || req.signal?.aborted) {
            throw new RpcError(
              GrpcStatus.CANCELLED,
              "the caller cancelled the request",
              "cancelled",
            );
          }
          if (failure.kind === "invalid_request") {
            throw new RpcError(
              GrpcStatus.INVALID_ARGUMENT,
              `${model.name} rejected the request: ${failure.message}`,
              "invalid_request",
            );
          }
          if (failure.kind === "context_length") {
            minWindow = model.contextWindow;
            break;
          }
        }
      }
    }

    throw allFailed(attempts, failures);
  }

  private outcome(
    plan: RoutePlan,
    served: Served,
    skipped: SkippedRoute[],
    attempts: string[],
    failures: Array<{ model: string; error: ProviderError }>,
  ): RoutingOutcome {
    let reason = plan.reason;
    const failedModels = [...new Set(failures.map((f) => f.model))]
      .filter((m) => m !== served.model.name);
    if (failedModels.length > 0) {
      const why = failedModels.map((m) => {
        const last = failures.filter((f) => f.model === m).at(-1);
        return `${m} failed (${last?.error.outcome ?? "error"})`;
      });
      reason += `; fell back to ${served.model.name} after ${why.join(", ")}`;
    } else if (failures.length > 0) {
      reason += `; ${served.deployment.name} deployment after another failed`;
    }

    return {
      model: served.model.name,
      tier: served.model.tier,
      reason,
      skipped,
      attempts,
    };
  }

  private startSpan(
    req: DispatchRequest,
    candidate: RouteCandidate,
    deployment: CatalogDeployment,
    tryNumber: number,
  ): Span {
    const attributes: Attributes = {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": deployment.provider,
      "gen_ai.request.model": deployment.upstreamModel,
      "gen_ai.request.max_tokens": candidate.maxTokens,
      "mesh.model": candidate.model.name,
      "mesh.deployment": deployment.id,
      "mesh.attempt": tryNumber,
      "mesh.request_id": req.requestId,
    };
    const { temperature, topP, topK } = req.params;
    if (temperature !== undefined) attributes["gen_ai.request.temperature"] = temperature;
    if (topP !== undefined) attributes["gen_ai.request.top_p"] = topP;
    if (topK !== undefined) attributes["gen_ai.request.top_k"] = topK;
    if (deployment.baseUrl) attributes["server.address"] = new URL(deployment.baseUrl).hostname;

    return this.tracer.startSpan(
      `chat ${candidate.model.name}`,
      { kind: SpanKind.CLIENT, attributes },
      req.parent,
    );
  }

  private noteWait(req: DispatchRequest, deployment: CatalogDeployment, ms: number): void {
    trace.getSpan(req.parent)?.addEvent("retry wait", {
      "mesh.deployment": deployment.id,
      "mesh.wait_ms": ms,
    });
  }
}

/** Names of stop reasons as they appear in gen_ai.response.finish_reasons. */
export const FINISH_REASONS: Readonly<Record<StopReason, string>> = {
  [StopReason.UNSPECIFIED]: "unspecified",
  [StopReason.END_TURN]: "end_turn",
  [StopReason.MAX_TOKENS]: "max_tokens",
  [StopReason.STOP_SEQUENCE]: "stop_sequence",
  [StopReason.TOOL_USE]: "tool_use",
  [StopReason.REFUSAL]: "refusal",
  [StopReason.GUARDRAIL]: "guardrail",
};

function finishSpan(span: Span, upstreamModel: string, stop: StopReason, usage: TokenUsage) {
  span.setAttributes({
    "gen_ai.response.model": upstreamModel,
    "gen_ai.response.finish_reasons": [FINISH_REASONS[stop]],
    "gen_ai.usage.input_tokens": usage.inputTokens,
    "gen_ai.usage.output_tokens": usage.outputTokens,
    "gen_ai.usage.cache_read.input_tokens": usage.cacheReadTokens,
    "gen_ai.usage.cache_creation.input_tokens": usage.cacheWriteTokens,
  });
}

function failSpan(span: Span, failure: ProviderError): void {
  span.setAttribute("error.type", failure.kind);
  if (failure.status !== undefined) span.setAttribute("http.response.status_code", failure.status);
  span.setStatus({ code: SpanStatusCode.ERROR, message: failure.outcome });
}

/**
 * The error when every model failed: RESOURCE_EXHAUSTED (reason overloaded) when each
 * failure was a 429 or 529, else UNAVAILABLE (reason provider_error); the message lists the
 * attempts so the caller sees what was tried.
 */
function allFailed(
  attempts: string[],
  failures: Array<{ model: string; error: ProviderError }>,
): RpcError {
  const list = attempts.length > 0 ? attempts.join("; ") : "no deployment could be tried";
  const overloaded = failures.length > 0 &&
    failures.every((f) => f.error.kind === "rate_limited" || f.error.kind === "overloaded");
  if (overloaded) {
    const waits = failures.map((f) => f.error.retryAfterMs).filter((ms) => ms !== undefined);
    return new RpcError(
      GrpcStatus.RESOURCE_EXHAUSTED,
      `every model is overloaded or rate limited; retry later (attempts: ${list})`,
      "overloaded",
      waits.length > 0 ? Math.min(...waits) : undefined,
    );
  }
  return new RpcError(
    GrpcStatus.UNAVAILABLE,
    `every model failed; retry later (attempts: ${list})`,
    "provider_error",
  );
}
