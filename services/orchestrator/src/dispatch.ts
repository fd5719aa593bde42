import { performance } from "node:perf_hooks";
import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from "@opentelemetry/api";
import {
  StopReason,
  type ChatParams,
  type ContentBlock,
} from "@mesh/contracts/common/v1/chat_pb";
import type { Logger } from "@mesh/logging";
import { costNanos, OutputTokenEstimate } from "@mesh/money";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { Balancer } from "./balancer.js";
import { noBudget, type BudgetGuard, type Reservation } from "./budget.js";
import type { CatalogDeployment, CatalogModel, Tier } from "./catalog.js";
import { noDispatchMetrics, type DispatchMetrics } from "./metrics.js";
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
import {
  FALLBACK_TIERS,
  type RouteCandidate,
  type RoutePlan,
  type SkippedRoute,
} from "./routing.js";
import { TryControl } from "./try-control.js";

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

/** Why a stream that had begun could not finish, and what it had produced. */
export interface StreamFailure {
  type: "failed";
  /** "overloaded", "rate_limited", "timeout" or "stream_interrupted". */
  reason: string;
  message: string;
  code: GrpcStatus;
  /**
   * Usage of what was produced: input (and cache) from the provider's start, output from
   * the last usage it reported, else counted from the deltas sent (textTokens per block);
   * input is the prompt estimate when the provider had reported none.
   */
  usage: TokenUsage;
}

/**
 * A streamed answer: `opened` once (after the first output), then provider events, then
 * either `stop` or, when the provider failed after output began, `failed`.
 */
export type DispatchEvent =
  | { type: "opened"; served: Served; routing: RoutingOutcome; upstreamModel: string;
    usage: TokenUsage; reservationId: string }
  | Exclude<ProviderEvent, { type: "start" } | { type: "usage" }>
  | StreamFailure;

/** Settings beyond the providers and breakers; every one has a default. */
export interface DispatcherOptions {
  balancer?: Balancer;
  budget?: BudgetGuard;
  metrics?: DispatchMetrics;
  /** Timeouts of deployments that set none (default first token 60 s, total 120 s). */
  timeouts?: { firstTokenMs: number; totalMs: number };
  /** Budget used_fraction from which a request moves to a cheaper tier; 0 turns it off. */
  downtierAt?: number;
  /**
   * Put prompt and answer text on attempt spans as events (gen_ai.input.messages,
   * gen_ai.output.messages). Off by default: text may hold personal data.
   */
  captureContent?: boolean;
}

/** What a successful chain hands back. */
interface Chained<T> {
  value: T;
  served: Served;
  routing: RoutingOutcome;
  reservationId: string;
}

/** One try of one deployment. */
interface Attempt {
  candidate: RouteCandidate;
  deployment: CatalogDeployment;
  span: Span;
  request: ProviderRequest;
  control: TryControl;
  /** Ends the try's in-flight count; called once, by whoever ends the try. */
  done: () => void;
}

/** The tier one step cheaper, for budget-aware routing (none below fast). */
const CHEAPER_TIER: Readonly<Record<Tier, Tier | undefined>> = {
  top: "balanced",
  balanced: "fast",
  fast: undefined,
};

/**
 * Tries the plan's models in order, each model's deployments in the balancer's order,
 * each deployment through Resilience (retries, breaker), and falls back after a deployment
 * gives up. Before a model is first called, the worst case is reserved against the
 * tenant's budget at that model's prices. Every try is its own CLIENT span named
 * "chat <model>" with GenAI attributes, a sibling under the server span.
 */
export class Dispatcher {
  private readonly tracer = trace.getTracer(TRACER);
  private readonly balancer: Balancer;
  private readonly budget: BudgetGuard;
  private readonly metrics: DispatchMetrics;
  private readonly timeouts: { firstTokenMs: number; totalMs: number };
  private readonly downtierAt: number;
  private readonly captureContent: boolean;

  constructor(
    private readonly providers: ProviderRegistry,
    private readonly resilience: Resilience,
    private readonly logger: Logger,
    options: DispatcherOptions = {},
  ) {
    this.balancer = options.balancer ?? new Balancer();
    this.budget = options.budget ?? noBudget;
    this.metrics = options.metrics ?? noDispatchMetrics;
    this.timeouts = options.timeouts ?? { firstTokenMs: 60_000, totalMs: 120_000 };
    this.downtierAt = options.downtierAt ?? 0;
    this.captureContent = options.captureContent ?? false;
  }

  /** Answers in full, falling back across models until one succeeds. */
  async complete(req: DispatchRequest) {
    const { value, served, routing, reservationId } = await this.chain(req, false,
      async (attempt) => {
        const provider = this.providerOf(attempt.deployment);
        const result = await attempt.control.race(provider.complete(attempt.request));
        finishSpan(attempt.span, result.upstreamModel, result.stopReason, result.usage);
        if (this.captureContent) {
          attempt.span.addEvent("gen_ai.output.messages", {
            "gen_ai.output.messages": JSON.stringify(textOf(result.content)),
          });
        }
        return result;
      });
    return { result: value as ProviderResult, served, routing, reservationId };
  }

  /**
   * Streams an answer. Fallback happens only before the first output (text, tool call or
   * the end) reaches the caller. After that, a failure (an error event, a cut connection,
   * a timeout) ends the stream with a `failed` event carrying the usage produced so far;
   * the stream then ends normally. Only the caller's own cancellation throws.
   */
  async *stream(req: DispatchRequest): AsyncGenerator<DispatchEvent> {
    const chained = await this.chain(req, true, async (attempt) => {
      const provider = this.providerOf(attempt.deployment);
      const iterator = provider.stream(attempt.request)[Symbol.asyncIterator]();
      const buffered: ProviderEvent[] = [];
      try {
        // Pull until the first event that commits us to this deployment.
        for (;;) {
          const next = await attempt.control.race(iterator.next());
          if (next.done) throw new ProviderError("connection", "the stream ended with no output");
          buffered.push(next.value);
          if (isOutput(next.value)) break;
        }
      } catch (err) {
        void iterator.return?.(undefined)?.catch(() => undefined);
        throw err;
      }
      attempt.control.firstOutput();
      return { iterator, buffered, attempt };
    });

    const { served, routing, reservationId } = chained;
    const { iterator, buffered, attempt } = chained.value;
    const { span, control } = attempt;
    const start = buffered[0]?.type === "start" ? buffered.shift() : undefined;
    const startUsage: TokenUsage = start?.type === "start" ? start.usage : emptyUsage();
    const upstreamModel = start?.type === "start"
      ? start.upstreamModel
      : served.deployment.upstreamModel;
    yield { type: "opened", served, routing, upstreamModel, usage: startUsage, reservationId };

    const counter = new OutputTokenEstimate();
    let reported: TokenUsage | undefined;
    let finished = false;
    let failed = false;
    try {
      const pending = [...buffered];
      while (!finished) {
        let event = pending.shift();
        if (!event) {
          const next = await control.race(iterator.next());
          if (next.done) throw new ProviderError("connection", "the stream ended before its end");
          event = next.value;
        }

        if (event.type === "start") continue;
        if (event.type === "usage") {
          reported = event.usage;
          continue;
        }
        if (event.type === "stop") {
          finished = true;
          finishSpan(span, upstreamModel, event.stopReason, event.usage);
        } else {
          if (event.type === "text_delta") counter.add(event.index, event.text);
          if (event.type === "tool_use") counter.add(event.index, event.name + event.inputJson);
        }
        yield event;
      }
    } catch (err) {
      const failure = control.failure(err);
      failSpan(span, failure);
      if (failure.kind === "cancelled") {
        throw new RpcError(GrpcStatus.CANCELLED, "the caller cancelled the stream", "cancelled");
      }

      failed = true;
      const usage = partialUsage(startUsage, reported, counter, req.plan.promptTokens);
      setUsage(span, usage);
      const ended = streamFailure(served, failure, usage);
      this.metrics.streamError(served.model.name, ended.reason);
      trace.getSpan(req.parent)?.setStatus({ code: SpanStatusCode.ERROR, message: ended.message });
      this.logger.warn(
        { requestId: req.requestId, deployment: served.deployment.id, error: failure.outcome,
          reason: ended.reason },
        "stream failed after output began; ending it with an error event",
      );
      yield ended;
    } finally {
      if (!finished) void iterator.return?.(undefined)?.catch(() => undefined);
      // A stream that ended neither way was abandoned or cancelled: nothing will settle it.
      if (!finished && !failed) await this.budget.release(reservationId);
      control.dispose();
      attempt.done();
      span.end();
    }
  }

  private providerOf(deployment: CatalogDeployment) {
    const provider = this.providers.get(deployment.id);
    if (!provider) throw new ProviderError("not_found", `no provider built for ${deployment.id}`);
    return provider;
  }

  /**
   * The fallback chain: reserve the budget, then for each candidate model, each active
   * deployment in balanced order, run `work` under Resilience. keepTry leaves a successful
   * try (span, timers, in-flight count) open for the caller to end. On failure the
   * reservation is released before the error is thrown.
   */
  private async chain<T>(
    req: DispatchRequest,
    keepTry: boolean,
    work: (attempt: Attempt) => Promise<T>,
  ): Promise<Chained<T>> {
    const { plan } = req;
    const attempts: string[] = [];
    const skipped = [...plan.skipped];
    const failures: Array<{ model: string; error: ProviderError }> = [];
    const budget = new BudgetHold(this.budget, this.metrics, req);
    // After a context-length error only models with a larger window are worth trying.
    let minWindow = 0;

    try {
      const { candidates, reason } = await this.admit(req, budget);

      for (const candidate of candidates) {
        const { model } = candidate;
        if (model.contextWindow <= minWindow) {
          skipped.push({ model: model.name, reason: `context window ${model.contextWindow} is ` +
            "no larger than that of a model that rejected the prompt as too long" });
          continue;
        }
        await budget.reserveFor(candidate);

        const order = this.balancer.order(model.active,
          (id) => !this.resilience.acceptsCalls(id));
        for (const deployment of order) {
          try {
            const value = await this.resilience.run(
              deployment.id,
              (tryNumber) => this.attempt(req, candidate, deployment, tryNumber, keepTry,
                attempts, work),
              { signal: req.signal, onWait: (ms) => this.noteWait(req, deployment, ms) },
            );

            const served: Served = { model, deployment, maxTokens: candidate.maxTokens };
            const routing = this.outcome(reason, served, skipped, attempts, failures);
            return { value, served, routing, reservationId: budget.id };
          } catch (err) {
            const failure = asProviderError(err);
            if (failure.kind === "circuit_open") {
              attempts.push(`${deployment.id}: circuit open`);
              this.metrics.attempt(deployment.id, "circuit_open", 0);
            }
            failures.push({ model: model.name, error: failure });
            if (failure.kind === "cancelled" || req.signal?.aborted) {
              this.logger.info({ requestId: req.requestId, deployment: deployment.id },
                "the caller cancelled the request; the model call was stopped");
              throw new RpcError(GrpcStatus.CANCELLED, "the caller cancelled the request",
                "cancelled");
            }
            this.logger.warn(
              { requestId: req.requestId, deployment: deployment.id, error: failure.outcome },
              "deployment failed; trying the next",
            );

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

      throw allFailed(attempts, failures, minWindow);
    } catch (err) {
      await budget.release();
      throw err;
    }
  }

  /** One try: span, timeouts, in-flight count, latency and outcome recorded. */
  private async attempt<T>(
    req: DispatchRequest,
    candidate: RouteCandidate,
    deployment: CatalogDeployment,
    tryNumber: number,
    keepTry: boolean,
    attempts: string[],
    work: (attempt: Attempt) => Promise<T>,
  ): Promise<T> {
    const span = this.startSpan(req, candidate, deployment, tryNumber);
    const control = new TryControl(deployment.id, {
      totalMs: deployment.timeouts.totalMs ?? this.timeouts.totalMs,
      firstTokenMs: keepTry ? deployment.timeouts.firstTokenMs ?? this.timeouts.firstTokenMs
        : undefined,
    }, req.signal);
    const done = this.balancer.begin(deployment);
    const request: ProviderRequest = {
      params: req.params,
      upstreamModel: deployment.upstreamModel,
      maxTokens: candidate.maxTokens,
      model: candidate.model.name,
      signal: control.signal,
    };
    const started = performance.now();

    try {
      // The attempt span is active while the provider is called, so its HTTP span is a child.
      const result = await context.with(trace.setSpan(req.parent, span), () =>
        work({ candidate, deployment, span, request, control, done }),
      );
      const elapsedMs = performance.now() - started;
      this.balancer.observe(deployment, elapsedMs);
      this.metrics.attempt(deployment.id, "ok", elapsedMs / 1000);
      attempts.push(`${deployment.id}: ok`);
      if (!keepTry) {
        control.dispose();
        done();
        span.end();
      }
      return result;
    } catch (err) {
      const failure = control.failure(err);
      control.dispose();
      done();
      attempts.push(`${deployment.id}: ${failure.outcome}`);
      this.metrics.attempt(deployment.id, failure.kind, (performance.now() - started) / 1000);
      failSpan(span, failure);
      span.end();
      throw failure;
    }
  }

  /**
   * Takes the first reservation and applies the budget policy: when the tenant has used
   * `downtierAt` or more of a budget, a request that named no model moves one tier down
   * (top → balanced → fast), reserved again at the cheaper model's prices.
   */
  private async admit(req: DispatchRequest, budget: BudgetHold) {
    const { plan } = req;
    let candidates = plan.candidates;
    let reason = plan.reason;
    const first = candidates[0];
    if (!first) return { candidates, reason };

    const reservation = await budget.reserveFor(first);
    const cheaper = CHEAPER_TIER[first.model.tier];
    if (this.downtierAt <= 0 || reservation.usedFraction < this.downtierAt || plan.explicit ||
      !cheaper) {
      return { candidates, reason };
    }

    const order = FALLBACK_TIERS[cheaper];
    const reordered = [...candidates].sort(
      (a, b) => order.indexOf(a.model.tier) - order.indexOf(b.model.tier),
    );
    const next = reordered[0];
    if (!next || next.model === first.model) return { candidates, reason };

    candidates = reordered;
    reason += `; budget ${percent(reservation.usedFraction)} used (the policy moves to a ` +
      `cheaper tier from ${percent(this.downtierAt)}) → ${next.model.tier} tier`;
    this.metrics.downtier(first.model.tier, next.model.tier);
    await budget.reserveFor(next);
    return { candidates, reason };
  }

  private outcome(
    planReason: string,
    served: Served,
    skipped: SkippedRoute[],
    attempts: string[],
    failures: Array<{ model: string; error: ProviderError }>,
  ): RoutingOutcome {
    let reason = planReason;
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

    const span = this.tracer.startSpan(
      `chat ${candidate.model.name}`,
      { kind: SpanKind.CLIENT, attributes },
      req.parent,
    );
    if (this.captureContent) {
      const messages = req.params.messages.map((m) => textOf(m.content));
      span.addEvent("gen_ai.input.messages", {
        "gen_ai.input.messages": JSON.stringify(messages),
      });
    }
    return span;
  }

  private noteWait(req: DispatchRequest, deployment: CatalogDeployment, ms: number): void {
    trace.getSpan(req.parent)?.addEvent("retry wait", {
      "mesh.deployment": deployment.id,
      "mesh.wait_ms": ms,
    });
  }
}

/**
 * The budget reservation of one request: taken before a model is first called and
 * replaced (same request, other prices) when the request falls back to another model.
 * Requests with neither tenant nor API key id have nothing to budget and skip the ledger.
 */
class BudgetHold {
  id = "";
  private model: CatalogModel | undefined;
  private readonly budgeted: boolean;

  constructor(
    private readonly guard: BudgetGuard,
    private readonly metrics: DispatchMetrics,
    private readonly req: DispatchRequest,
  ) {
    this.budgeted = req.params.tenant !== "" || req.params.apiKeyId !== "";
  }

  /** Reserves the worst case at the candidate's prices, unless already held for its model. */
  async reserveFor(candidate: RouteCandidate): Promise<Reservation> {
    if (!this.budgeted || candidate.model === this.model) {
      return { reservationId: this.id, usedFraction: 0 };
    }

    const { plan, params } = this.req;
    const worstCase = {
      inputTokens: plan.promptTokens,
      outputTokens: candidate.maxTokens,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    };
    let reservation: Reservation;
    try {
      reservation = await this.guard.reserve({
        requestId: this.req.requestId,
        tenant: params.tenant,
        apiKeyId: params.apiKeyId,
        model: candidate.model.name,
        amountNanos: costNanos(worstCase, candidate.model.prices),
        tokens: plan.promptTokens + candidate.maxTokens,
        replaces: this.id,
      });
    } catch (err) {
      const reason = err instanceof RpcError ? err.reason : "";
      this.metrics.budget(reason === "budget_exceeded" ? "exceeded" : "unavailable");
      throw err;
    }

    this.metrics.budget(reservation.skipped ? "skipped"
      : reservation.reservationId === "" ? "no_budget" : "reserved");
    this.id = reservation.reservationId;
    this.model = candidate.model;
    return reservation;
  }

  /** Drops the reservation held (the request produced nothing to settle it with). */
  async release(): Promise<void> {
    const id = this.id;
    this.id = "";
    await this.guard.release(id);
  }
}

/** Counts output tokens of what was streamed, by the mesh's rule, block by block. */
function isOutput(event: ProviderEvent): boolean {
  return event.type === "text_delta" || event.type === "tool_use" || event.type === "stop";
}

function partialUsage(
  start: TokenUsage,
  reported: TokenUsage | undefined,
  counter: OutputTokenEstimate,
  promptEstimate: number,
): TokenUsage {
  const base = reported ?? start;
  const inputKnown = reported !== undefined || start.inputTokens > 0 ||
    start.cacheReadTokens > 0 || start.cacheWriteTokens > 0;
  return {
    inputTokens: inputKnown ? base.inputTokens : promptEstimate,
    outputTokens: reported ? reported.outputTokens : counter.total(),
    cacheReadTokens: base.cacheReadTokens,
    cacheWriteTokens: base.cacheWriteTokens,
    reasoningTokens: reported ? reported.reasoningTokens : 0,
  };
}

/** The failed event for a stream that broke after output began. */
function streamFailure(served: Served, failure: ProviderError, usage: TokenUsage): StreamFailure {
  const base = `${served.deployment.id} failed after the answer began (${failure.outcome}); ` +
    "the answer is incomplete";
  switch (failure.kind) {
    case "overloaded":
    case "rate_limited":
      return { type: "failed", reason: failure.kind, message: `${base}, retry later`,
        code: GrpcStatus.RESOURCE_EXHAUSTED, usage };
    case "timeout":
      return { type: "failed", reason: "timeout", message: `${base}: ${failure.message}`,
        code: GrpcStatus.DEADLINE_EXCEEDED, usage };
    default:
      return { type: "failed", reason: "stream_interrupted", message: `${base}, retry the request`,
        code: GrpcStatus.UNAVAILABLE, usage };
  }
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`;
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

/** The text of content blocks, for spans when content capture is on. */
function textOf(content: ContentBlock[]): string[] {
  return content.flatMap((b) => (b.block.case === "text" ? [b.block.value.text] : []));
}

function finishSpan(span: Span, upstreamModel: string, stop: StopReason, usage: TokenUsage) {
  span.setAttributes({
    "gen_ai.response.model": upstreamModel,
    "gen_ai.response.finish_reasons": [FINISH_REASONS[stop]],
  });
  setUsage(span, usage);
}

function setUsage(span: Span, usage: TokenUsage): void {
  span.setAttributes({
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
 * failure was a 429 or 529; INVALID_ARGUMENT context_length_exceeded when a model rejected
 * the prompt as too long and no larger one could take it; else UNAVAILABLE (reason
 * provider_error). The message lists the attempts so the caller sees what was tried.
 */
function allFailed(
  attempts: string[],
  failures: Array<{ model: string; error: ProviderError }>,
  minWindow: number,
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
  if (minWindow > 0 && failures.at(-1)?.error.kind === "context_length") {
    return new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      `the prompt is too long for every model that could take it (attempts: ${list}); ` +
        "shorten the prompt or lower max_tokens",
      "context_length_exceeded",
    );
  }
  return new RpcError(
    GrpcStatus.UNAVAILABLE,
    `every model failed; retry later (attempts: ${list})`,
    "provider_error",
  );
}
