import { GuardrailsService } from "@mesh/contracts/guardrails/v1/guardrails_pb";
import { OrchestratorService } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import { onShutdownSignal, startProbeServer } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { createGrpcClient, registerService, startGrpcServer } from "@mesh/rpc";
import type { GuardrailsConfig } from "./config.js";
import { checkInput, checkOutput, checkOutputChunk } from "./guardrails.js";
import {
  applyOpinion,
  createModelChecker,
  nearThreshold,
  type ModelChecker,
} from "./model-check.js";
import { loadPolicyFile, type PolicyResolver } from "./policy-file.js";
import { policyFromConfig } from "./policy.js";
import { createStateCipher, parseStateKey, type StateCipher } from "./redaction-state.js";
import { blocks } from "./verdict.js";

export type { PolicyResolver } from "./policy-file.js";

/** A running guardrails service. */
export interface GuardrailsServiceHandle {
  grpcPort: number;
  httpPort: number;
  stop(): Promise<void>;
}

export interface GuardrailsServiceOptions {
  /**
   * Per-tenant policies. Defaults to GUARDRAILS_POLICY_FILE when set, else the environment's
   * policy for every tenant.
   */
  policyFor?: PolicyResolver;
  /** The model check to use; defaults to one over ORCHESTRATOR_ADDR when enabled. */
  modelChecker?: ModelChecker;
}

/**
 * Starts the guardrails service: gRPC CheckInput, CheckOutput and CheckOutputChunk, plus
 * /health and /ready on the HTTP port. The checks hold no state between requests (the
 * redaction state travels with the request, sealed, and a stream's chunk checks hand back an
 * updated one), so the service is ready as soon as it listens and any replica can answer any
 * call.
 */
export async function startGuardrailsService(
  config: GuardrailsConfig,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
  options: GuardrailsServiceOptions = {},
): Promise<GuardrailsServiceHandle> {
  const defaultPolicy = policyFromConfig(config);
  const policyFor =
    options.policyFor ??
    (config.GUARDRAILS_POLICY_FILE
      ? loadPolicyFile(config.GUARDRAILS_POLICY_FILE, defaultPolicy)
      : () => defaultPolicy);
  const cipher = stateCipher(config, logger);

  const orchestrator =
    !options.modelChecker && config.GUARDRAILS_MODEL_CHECK
      ? createGrpcClient(OrchestratorService, config.ORCHESTRATOR_ADDR, "guardrails")
      : undefined;
  const modelChecker =
    options.modelChecker ??
    (orchestrator
      ? createModelChecker({
          client: orchestrator,
          model: config.GUARDRAILS_MODEL_CHECK_MODEL,
          timeoutMs: config.GUARDRAILS_MODEL_CHECK_TIMEOUT_MS,
          margin: config.GUARDRAILS_MODEL_CHECK_MARGIN,
        })
      : undefined);

  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GUARDRAILS_GRPC_PORT,
    logger,
    tracerName: "guardrails",
    services: [
      registerService(GuardrailsService, {
        async checkInput(req) {
          const policy = policyFor(req.tenant);
          const result = checkInput(req, policy);

          let { verdicts, allowed } = result;
          const injection = verdicts.findIndex((v) => v.check === "injection");
          const verdict = verdicts[injection];
          if (modelChecker && policy.modelCheck && verdict) {
            if (nearThreshold(verdict, policy, modelChecker.margin)) {
              const opinion = await modelChecker.classify(result, req);
              verdicts = verdicts.map((v, i) =>
                i === injection ? applyOpinion(v, opinion, policy) : v,
              );
              allowed = !verdicts.some(blocks);
            }
          }

          if (!allowed) logBlock(logger, "input", req.requestId, verdicts);
          const binding = { requestId: req.requestId, tenant: req.tenant };
          return {
            allowed,
            verdicts,
            system: result.system,
            messages: result.messages,
            redactionState: cipher.seal(result.redactor, binding),
            failOpen: policy.failOpen,
          };
        },
        async checkOutput(req) {
          const policy = policyFor(req.tenant);
          const state = cipher.open(req.redactionState, req);
          const result = checkOutput(
            { content: req.content, hints: req.hints, responseFormatJson: req.responseFormatJson },
            policy,
            state,
          );
          if (!result.allowed) logBlock(logger, "output", req.requestId, result.verdicts);
          return { allowed: result.allowed, verdicts: result.verdicts, content: result.content };
        },
        async checkOutputChunk(req) {
          const policy = policyFor(req.tenant);
          const { request, answer, expiresMs } = cipher.openStream(req.redactionState, req);
          const result = checkOutputChunk({ ...req, answer }, policy, request);
          if (!result.allowed) logBlock(logger, "output_stream", req.requestId, result.verdicts);
          // Placeholders only ever get added, so a larger mapping is a changed one; an
          // unchanged state is not sent back, and the gateway keeps sending its last one.
          const before = answer?.size ?? request?.size ?? 0;
          const redactionState =
            result.answer.size > before
              ? cipher.sealStream({ request, answer: result.answer, expiresMs }, req)
              : new Uint8Array(0);
          return {
            allowed: result.allowed,
            verdicts: result.verdicts,
            consumedChars: result.consumedChars,
            releaseText: result.releaseText,
            redactionState,
          };
        },
      }),
    ],
  });

  const http = await startProbeServer({
    host: config.HTTP_HOST,
    port: config.GUARDRAILS_HTTP_PORT,
    checks: {},
  });

  const stop = async () => {
    http.markNotReady();
    await grpc.shutdown(config.SHUTDOWN_DEADLINE_MS - 1_000);
    orchestrator?.close();
    await http.close();
    await flushTelemetry();
  };
  onShutdownSignal(logger, config.SHUTDOWN_DEADLINE_MS, [{ name: "stop", run: stop }]);

  logger.info(
    {
      grpcPort: grpc.port,
      httpPort: http.port,
      piiAction: config.GUARDRAILS_PII_ACTION,
      secretAction: config.GUARDRAILS_SECRET_ACTION,
      injectionThreshold: config.GUARDRAILS_INJECTION_THRESHOLD,
      policyFile: config.GUARDRAILS_POLICY_FILE !== undefined,
      modelCheck: modelChecker !== undefined,
    },
    "guardrails service listening",
  );
  return { grpcPort: grpc.port, httpPort: http.port, stop };
}

// Blocks are logged with categories and scores only: never text, values or offsets.
function logBlock(
  logger: Logger,
  stage: string,
  requestId: string,
  verdicts: readonly { check: string; category: string; score: number; passed: boolean }[],
): void {
  const findings = verdicts
    .filter((v) => !v.passed)
    .map((v) => ({ check: v.check, category: v.category, score: v.score }));
  logger.info({ stage, requestId, findings }, "guardrails blocked a request");
}

// A key from the environment, or a random one for this process with a warning: then only
// the replica that sealed a request's state can open it.
function stateCipher(config: GuardrailsConfig, logger: Logger): StateCipher {
  if (config.GUARDRAILS_STATE_KEY) {
    return createStateCipher(parseStateKey(config.GUARDRAILS_STATE_KEY));
  }

  logger.warn(
    "GUARDRAILS_STATE_KEY is not set: redaction states use a key of this process only, so " +
      "placeholders are restored only when CheckInput and CheckOutput reach the same replica",
  );
  return createStateCipher();
}
