import { randomUUID } from "node:crypto";
import { context, trace, type Context } from "@opentelemetry/api";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  StopReason,
  type ChatParams,
  type RoutingDecisionSchema,
  type UsageSchema,
} from "@mesh/contracts/common/v1/chat_pb";
import { OrchestratorService } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import type { Logger } from "@mesh/logging";
import { costNanos, pricesToMessage, usdFromNanos } from "@mesh/money";
import { registerService, type ServiceRegistration } from "@mesh/rpc";
import type { Catalog } from "./catalog.js";
import type { Dispatcher, RoutingOutcome, Served } from "./dispatch.js";
import { validateParams } from "./params.js";
import type { TokenUsage } from "./providers/types.js";
import { planRoute, type RoutingOptions } from "./routing.js";

/** The catalog and the dispatcher built for it; replaced together on reload. */
export interface OrchestratorState {
  readonly catalog: Catalog;
  readonly dispatcher: Dispatcher;
}

export interface OrchestratorServiceDeps {
  /** The current state; each request reads it once, so a reload never splits a request. */
  state(): OrchestratorState;
  routing: RoutingOptions;
  logger: Logger;
}

type UsageInit = MessageInitShape<typeof UsageSchema>;
type RoutingInit = MessageInitShape<typeof RoutingDecisionSchema>;

/**
 * The OrchestratorService handlers: validate, plan the route, dispatch with retries and
 * fallback, price the usage at the catalog's rates. A stream that fails after its first
 * event ends with an `error` event (reason, message, gRPC code, and the partial result
 * with the usage and cost of what was produced) and then ends normally, so the caller can
 * bill what was produced; it never ends with `done` as if it had finished.
 */
export function orchestratorService(deps: OrchestratorServiceDeps): ServiceRegistration {
  function prepare(requestId: string, params: ChatParams | undefined) {
    validateParams(params);
    const { catalog, dispatcher } = deps.state();
    const plan = planRoute(catalog, params, deps.routing);
    return { id: requestId || randomUUID(), params, plan, dispatcher, parent: context.active() };
  }

  return registerService(OrchestratorService, {
    async complete(req, call) {
      const { id, params, plan, dispatcher, parent } = prepare(req.requestId, req.params);
      const { result, served, routing, reservationId } = await dispatcher.complete({
        requestId: id,
        params,
        plan,
        signal: call.signal,
        parent,
      });
      annotate(parent, id, routing);

      return {
        result: {
          requestId: id,
          content: result.content,
          stopReason: result.stopReason,
          stopSequence: result.stopSequence,
          ...billing(served, result.usage),
          ...servedBy(served, routing),
          upstreamModel: result.upstreamModel,
          reservationId,
        },
      };
    },

    async *streamComplete(req, call) {
      const { id, params, plan, dispatcher, parent } = prepare(req.requestId, req.params);
      let opened: {
        served: Served;
        routing: RoutingOutcome;
        upstreamModel: string;
        reservationId: string;
      } | undefined;

      for await (const event of dispatcher.stream({
        requestId: id,
        params,
        plan,
        signal: call.signal,
        parent,
      })) {
        switch (event.type) {
          case "opened":
            opened = event;
            annotate(parent, id, event.routing);
            yield {
              event: {
                event: {
                  case: "start",
                  value: {
                    requestId: id,
                    model: event.served.model.name,
                    provider: event.served.deployment.provider,
                    usage: toUsage(event.usage),
                    routing: toRouting(event.routing),
                    prices: pricesToMessage(event.served.model.prices),
                  },
                },
              },
            };
            break;
          case "text_delta":
            yield {
              event: {
                event: { case: "textDelta", value: { index: event.index, text: event.text } },
              },
            };
            break;
          case "tool_use":
            yield {
              event: {
                event: {
                  case: "toolUse",
                  value: { id: event.id, name: event.name, inputJson: event.inputJson },
                },
              },
            };
            break;
          case "stop":
            if (!opened) break;
            yield {
              event: {
                event: {
                  case: "done",
                  value: {
                    requestId: id,
                    stopReason: event.stopReason,
                    stopSequence: event.stopSequence,
                    ...billing(opened.served, event.usage),
                    ...servedBy(opened.served, opened.routing),
                    upstreamModel: opened.upstreamModel,
                    reservationId: opened.reservationId,
                  },
                },
              },
            };
            break;
          case "failed":
            if (!opened) break;
            yield {
              event: {
                event: {
                  case: "error",
                  value: {
                    reason: event.reason,
                    message: event.message,
                    code: event.code,
                    partial: {
                      requestId: id,
                      stopReason: StopReason.UNSPECIFIED,
                      ...billing(opened.served, event.usage),
                      ...servedBy(opened.served, opened.routing),
                      upstreamModel: opened.upstreamModel,
                      reservationId: opened.reservationId,
                    },
                  },
                },
              },
            };
            break;
        }
      }
    },

    async listModels() {
      const { catalog } = deps.state();
      return {
        models: catalog.models.map((m) => ({
          name: m.name,
          tier: m.tier,
          contextWindow: m.contextWindow,
          maxOutputTokens: m.maxOutputTokens,
          prices: pricesToMessage(m.prices),
          providers: [...new Set(m.active.map((d) => d.provider))],
        })),
      };
    },
  });
}

function billing(served: Served, usage: TokenUsage) {
  return {
    usage: toUsage(usage),
    cost: usdFromNanos(costNanos(usage, served.model.prices)),
    prices: pricesToMessage(served.model.prices),
  };
}

function servedBy(served: Served, routing: RoutingOutcome) {
  return {
    model: served.model.name,
    provider: served.deployment.provider,
    deployment: served.deployment.name,
    routing: toRouting(routing),
  };
}

function toUsage(usage: TokenUsage): UsageInit {
  return { ...usage };
}

function toRouting(routing: RoutingOutcome): RoutingInit {
  return {
    model: routing.model,
    tier: routing.tier,
    reason: routing.reason,
    skipped: routing.skipped.map((s) => ({ model: s.model, reason: s.reason })),
    attempts: routing.attempts,
  };
}

/** Puts the routing decision on the orchestrator's server span (no prompt text). */
function annotate(parent: Context, requestId: string, routing: RoutingOutcome): void {
  trace.getSpan(parent)?.setAttributes({
    "mesh.request_id": requestId,
    "mesh.routing.model": routing.model,
    "mesh.routing.tier": routing.tier,
    "mesh.routing.reason": routing.reason,
    "mesh.routing.skipped": routing.skipped.map((s) => `${s.model}: ${s.reason}`),
    "mesh.routing.attempts": routing.attempts,
  });
}
