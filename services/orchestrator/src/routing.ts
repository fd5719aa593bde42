import { Complexity, type ChatParams } from "@mesh/contracts/common/v1/chat_pb";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import type { Catalog, CatalogModel, Tier } from "./catalog.js";
import { estimatePromptTokens, requiredCapabilities } from "./params.js";

/** Tiers in the order they are tried, starting from the preferred one. */
export const FALLBACK_TIERS: Readonly<Record<Tier, readonly Tier[]>> = {
  top: ["top", "balanced", "fast"],
  balanced: ["balanced", "fast", "top"],
  fast: ["fast", "balanced", "top"],
};

/** A model the plan may try, with the output limit resolved for it. */
export interface RouteCandidate {
  model: CatalogModel;
  maxTokens: number;
}

/** A model left out of the plan, and why. */
export interface SkippedRoute {
  model: string;
  reason: string;
}

/** Which models to try, in order, and why the first one was chosen. */
export interface RoutePlan {
  /** The tier the request asked for (or the named model's tier). */
  tier: Tier;
  /** Why: "model named in the request", "complexity high → top tier", ... */
  reason: string;
  candidates: RouteCandidate[];
  skipped: SkippedRoute[];
  promptTokens: number;
  explicit: boolean;
}

export interface RoutingOptions {
  /** Used when params.max_tokens is 0, capped at each model's own limit. */
  defaultMaxTokens: number;
  /** Whether a named model may fall back to others when it fails. */
  fallbackExplicit: boolean;
}

/**
 * Plans the models for a request. A named model (or alias) is honoured, unknown names are
 * INVALID_ARGUMENT (reason invalid_model). Otherwise the hints pick a tier: complexity HIGH
 * or requires_reasoning → top; latency_sensitive → fast; else balanced. Models that cannot
 * take the request (no enabled deployment, max_tokens above their limit, prompt plus
 * max_tokens beyond their context window, a missing capability) are skipped with a reason.
 */
export function planRoute(catalog: Catalog, params: ChatParams, options: RoutingOptions)
  : RoutePlan {
  const promptTokens = estimatePromptTokens(params);
  const needs = requiredCapabilities(params);
  const skipped: SkippedRoute[] = [];

  const fit = (model: CatalogModel): RouteCandidate | string => {
    const maxTokens = params.maxTokens || Math.min(options.defaultMaxTokens, model.maxOutputTokens);
    if (model.active.length === 0) {
      const why = model.deployments.map((d) => d.disabledReason).filter(Boolean);
      return `no enabled deployment (${[...new Set(why)].join("; ")})`;
    }
    if (maxTokens > model.maxOutputTokens) {
      return `max_tokens ${maxTokens} is above its limit of ${model.maxOutputTokens}`;
    }
    if (promptTokens + maxTokens > model.contextWindow) {
      return `prompt of about ${promptTokens} tokens plus max_tokens ${maxTokens} exceeds ` +
        `its context window of ${model.contextWindow}`;
    }
    if (needs.tools && !model.capabilities.tools) return "does not support tools";
    if (needs.images && !model.capabilities.images) return "does not support images";
    return { model, maxTokens };
  };

  if (params.model !== "") {
    const named = catalog.find(params.model);
    if (!named) {
      const names = catalog.models.map((m) => m.name).join(", ");
      throw new RpcError(
        GrpcStatus.INVALID_ARGUMENT,
        `params.model "${params.model}" is not in the catalog; use one of: ${names}`,
        "invalid_model",
      );
    }

    const first = fit(named);
    if (typeof first === "string") throw unfit(named.name, first);

    const others = options.fallbackExplicit
      ? orderedModels(catalog, named.tier).filter((m) => m !== named)
      : [];
    return {
      tier: named.tier,
      reason: "model named in the request",
      candidates: [first, ...fitAll(others, fit, skipped)],
      skipped,
      promptTokens,
      explicit: true,
    };
  }

  const { tier, why } = tierFromHints(params);
  const candidates = fitAll(orderedModels(catalog, tier), fit, skipped);
  const first = candidates[0];
  if (!first) throw noModelFits(skipped);

  const reason = first.model.tier === tier
    ? `${why} → ${tier} tier`
    : `${why} → ${tier} tier; none usable there, ${first.model.tier} tier next in fallback order`;
  return { tier, reason, candidates, skipped, promptTokens, explicit: false };
}

/** The tier the hints ask for, and which hint decided it. */
export function tierFromHints(params: ChatParams): { tier: Tier; why: string } {
  const hints = params.hints;
  if (hints?.complexity === Complexity.HIGH) return { tier: "top", why: "complexity high" };
  if (hints?.requiresReasoning) return { tier: "top", why: "requires_reasoning" };
  if (hints?.latencySensitive) return { tier: "fast", why: "latency_sensitive" };
  return { tier: "balanced", why: "no routing hint" };
}

/** Every catalog model, tier by tier in fallback order, catalog order within a tier. */
function orderedModels(catalog: Catalog, tier: Tier): CatalogModel[] {
  return FALLBACK_TIERS[tier].flatMap((t) => catalog.models.filter((m) => m.tier === t));
}

function fitAll(
  models: CatalogModel[],
  fit: (model: CatalogModel) => RouteCandidate | string,
  skipped: SkippedRoute[],
): RouteCandidate[] {
  const out: RouteCandidate[] = [];
  for (const model of models) {
    const result = fit(model);
    if (typeof result === "string") skipped.push({ model: model.name, reason: result });
    else out.push(result);
  }
  return out;
}

function unfit(model: string, reason: string): RpcError {
  if (reason.startsWith("no enabled deployment")) {
    return new RpcError(GrpcStatus.UNAVAILABLE, `${model} has ${reason}`, "model_unavailable");
  }
  const code = reason.startsWith("max_tokens")
    ? "max_tokens_too_large"
    : reason.startsWith("prompt")
      ? "context_length_exceeded"
      : "unsupported_capability";
  return new RpcError(
    GrpcStatus.INVALID_ARGUMENT,
    `params.model ${model} cannot take this request: ${reason}; lower the limit or pick ` +
      "another model",
    code,
  );
}

function noModelFits(skipped: SkippedRoute[]): RpcError {
  const list = skipped.map((s) => `${s.model}: ${s.reason}`).join("; ");
  if (skipped.every((s) => s.reason.startsWith("no enabled deployment"))) {
    return new RpcError(GrpcStatus.UNAVAILABLE, `no model is available: ${list}`, "no_model");
  }
  return new RpcError(
    GrpcStatus.INVALID_ARGUMENT,
    `no model can take this request (${list}); shorten the prompt or lower max_tokens`,
    "no_model_fits",
  );
}
