import {
  GuardrailAction,
  type ChatParams,
  type ContentBlock,
  type GuardrailVerdict,
} from "@mesh/contracts/common/v1/chat_pb";
import type { GuardrailsService } from "@mesh/contracts/guardrails/v1/guardrails_pb";
import type { Logger } from "@mesh/logging";
import { GrpcStatus, type GrpcClient, type RpcError } from "@mesh/rpc";
import { gatewayError } from "./errors.js";

/** Who is asking, for the guardrails service. */
export interface CheckCaller {
  requestId: string;
  tenant: string;
  signal?: AbortSignal | undefined;
}

/** The outcome of the input checks. */
export interface InputCheck {
  /** Set when the input was refused. */
  blocked: RpcError | undefined;
  /** The params to send on: redacted where a check asked for it. */
  params: ChatParams;
  verdicts: GuardrailVerdict[];
}

/** The outcome of the output checks: the content to send, possibly redacted. */
export interface OutputCheck {
  allowed: boolean;
  verdicts: GuardrailVerdict[];
  content: ContentBlock[];
}

/** Calls to the guardrails service with the gateway's failure policy applied. */
export interface GuardrailChecks {
  input(caller: CheckCaller, params: ChatParams): Promise<InputCheck>;
  output(caller: CheckCaller, params: ChatParams, content: ContentBlock[]): Promise<OutputCheck>;
}

/**
 * Builds the checks on the guardrails client. When the service cannot answer, the request is
 * refused (closed) or goes on unchecked (open), as GUARDRAILS_FAILURE_MODE says.
 */
export function createGuardrailChecks(
  client: GrpcClient<typeof GuardrailsService>,
  options: { timeoutMs: number; failureMode: "closed" | "open"; logger: Logger },
): GuardrailChecks {
  const { logger, failureMode } = options;

  return {
    async input(caller, params) {
      try {
        const checked = await client.checkInput(
          {
            requestId: caller.requestId,
            tenant: caller.tenant,
            system: params.system,
            messages: params.messages,
          },
          { timeoutMs: options.timeoutMs, signal: caller.signal },
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

        const redacted = { ...params, system: checked.system, messages: checked.messages };
        return { blocked: undefined, params: redacted, verdicts: checked.verdicts };
      } catch (err) {
        if (failureMode === "open") {
          logger.warn({ err: String(err) }, "input guardrails unavailable; failing open by policy");
          return { blocked: undefined, params, verdicts: [] };
        }
        throw gatewayError(
          GrpcStatus.UNAVAILABLE,
          "guardrails_unavailable",
          "safety checks are unavailable, so the request was refused; retry shortly",
        );
      }
    },

    async output(caller, params, content) {
      try {
        return await client.checkOutput(
          { requestId: caller.requestId, tenant: caller.tenant, content, hints: params.hints },
          { timeoutMs: options.timeoutMs, signal: caller.signal },
        );
      } catch (err) {
        if (failureMode === "open") {
          logger.warn(
            { err: String(err) },
            "output guardrails unavailable; failing open by policy",
          );
          return { allowed: true, verdicts: [], content };
        }
        throw gatewayError(
          GrpcStatus.UNAVAILABLE,
          "guardrails_unavailable",
          "safety checks are unavailable, so the answer was withheld; retry shortly",
        );
      }
    },
  };
}
