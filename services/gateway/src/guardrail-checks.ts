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
  /** Opaque placeholder mapping, sent back with the output checks; never logged. */
  redactionState: Uint8Array;
}

/** The outcome of the output checks: the content to send, possibly redacted. */
export interface OutputCheck {
  allowed: boolean;
  verdicts: GuardrailVerdict[];
  content: ContentBlock[];
}

/** What one step of a guarded stream lets through. */
export interface GateStep {
  /** Checked text to send now (redacted, placeholders restored); may be empty. */
  release: string;
  /** Set when the stream must stop: the verdicts that block it. */
  blocked: GuardrailVerdict[] | undefined;
  verdicts: GuardrailVerdict[];
}

/**
 * Holds streamed text back until the guardrails service has checked each sentence, so text
 * that a policy blocks never reaches the caller.
 */
export interface StreamGate {
  push(blockIndex: number, text: string): Promise<GateStep>;
  /** The block has ended: checks and releases whatever is still held. */
  finish(blockIndex: number): Promise<GateStep>;
  /** Blocks with text still held, in the order they started. */
  openBlocks(): number[];
}

/** Calls to the guardrails service with the gateway's failure policy applied. */
export interface GuardrailChecks {
  input(caller: CheckCaller, params: ChatParams): Promise<InputCheck>;
  output(
    caller: CheckCaller,
    params: ChatParams,
    content: ContentBlock[],
    redactionState?: Uint8Array,
  ): Promise<OutputCheck>;
  streamGate(caller: CheckCaller, params: ChatParams, redactionState: Uint8Array): StreamGate;
}

// A held sentence is checked once it ends; a run-on one once it grows past this many units.
const SENTENCE_END = /[.!?]\s|\n/;
const MAX_HELD_CHARS = 400;

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
          return {
            blocked: err,
            params,
            verdicts: checked.verdicts,
            redactionState: checked.redactionState,
          };
        }

        const redacted = { ...params, system: checked.system, messages: checked.messages };
        return {
          blocked: undefined,
          params: redacted,
          verdicts: checked.verdicts,
          redactionState: checked.redactionState,
        };
      } catch (err) {
        // The caller went away: nothing is unavailable, and nothing may fail open.
        if (caller.signal?.aborted) throw err;
        if (failureMode === "open") {
          logger.warn({ err: String(err) }, "input guardrails unavailable; failing open by policy");
          return { blocked: undefined, params, verdicts: [], redactionState: new Uint8Array() };
        }
        throw gatewayError(
          GrpcStatus.UNAVAILABLE,
          "guardrails_unavailable",
          "safety checks are unavailable, so the request was refused; retry shortly",
        );
      }
    },

    async output(caller, params, content, redactionState = new Uint8Array()) {
      try {
        return await client.checkOutput(
          {
            requestId: caller.requestId,
            tenant: caller.tenant,
            content,
            hints: params.hints,
            redactionState,
            responseFormatJson: params.responseFormatJson,
          },
          { timeoutMs: options.timeoutMs, signal: caller.signal },
        );
      } catch (err) {
        if (caller.signal?.aborted) throw err;
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

    streamGate(caller, params, redactionState) {
      const blocks = new Map<number, { held: string; released: number }>();
      // One state for the whole answer, every block: each check hands back the placeholders
      // it gave to leaked values, so a value keeps its placeholder and new ones are numbered
      // after them.
      let state = redactionState;

      async function check(blockIndex: number, final: boolean): Promise<GateStep> {
        const block = blocks.get(blockIndex);
        if (!block || (block.held === "" && !final)) {
          return { release: "", blocked: undefined, verdicts: [] };
        }

        let reply;
        try {
          reply = await client.checkOutputChunk(
            {
              requestId: caller.requestId,
              tenant: caller.tenant,
              blockIndex,
              releasedChars: block.released,
              heldText: block.held,
              final,
              hints: params.hints,
              redactionState: state,
            },
            { timeoutMs: options.timeoutMs, signal: caller.signal },
          );
        } catch (err) {
          if (failureMode !== "open") {
            throw gatewayError(
              GrpcStatus.UNAVAILABLE,
              "guardrails_unavailable",
              "safety checks stopped answering mid-stream, so the answer was cut; retry",
            );
          }
          logger.warn({ err: String(err) }, "stream guardrails unavailable; failing open");
          const release = block.held;
          block.released += release.length;
          block.held = "";
          return { release, blocked: undefined, verdicts: [] };
        }

        if (reply.redactionState.length > 0) state = reply.redactionState;
        if (!reply.allowed) {
          const blocked = reply.verdicts.filter((v) => v.action === GuardrailAction.BLOCK);
          return { release: "", blocked, verdicts: reply.verdicts };
        }
        block.held = block.held.slice(reply.consumedChars);
        block.released += reply.consumedChars;
        if (final) blocks.delete(blockIndex);
        return { release: reply.releaseText, blocked: undefined, verdicts: reply.verdicts };
      }

      return {
        async push(blockIndex, text) {
          const block = blocks.get(blockIndex) ?? { held: "", released: 0 };
          blocks.set(blockIndex, block);
          block.held += text;
          const due = SENTENCE_END.test(block.held) || block.held.length > MAX_HELD_CHARS;
          return due ? check(blockIndex, false) : { release: "", blocked: undefined, verdicts: [] };
        },
        finish: (blockIndex) => check(blockIndex, true),
        openBlocks: () => [...blocks.keys()],
      };
    },
  };
}
