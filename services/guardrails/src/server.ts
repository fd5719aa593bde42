import { GuardrailsService } from "@mesh/contracts/guardrails/v1/guardrails_pb";
import { onShutdownSignal, startProbeServer } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { registerService, startGrpcServer } from "@mesh/rpc";
import type { GuardrailsConfig } from "./config.js";
import { checkInput, checkOutput } from "./guardrails.js";
import { policyFromConfig, type GuardrailPolicy } from "./policy.js";

/** A running guardrails service. */
export interface GuardrailsServiceHandle {
  grpcPort: number;
  httpPort: number;
  stop(): Promise<void>;
}

/** Picks the policy for a request's tenant. */
export type PolicyResolver = (tenant: string) => GuardrailPolicy;

export interface GuardrailsServiceOptions {
  /**
   * Per-tenant policies. Defaults to the environment's policy for every tenant.
   * TODO(#4): read per-tenant policies from the tenant configuration.
   */
  policyFor?: PolicyResolver;
}

/**
 * Starts the guardrails service: gRPC CheckInput and CheckOutput, plus /health and /ready on
 * the HTTP port. The checks hold no state between requests and need no dependency, so the
 * service is ready as soon as it listens.
 */
export async function startGuardrailsService(
  config: GuardrailsConfig,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
  options: GuardrailsServiceOptions = {},
): Promise<GuardrailsServiceHandle> {
  const defaultPolicy = policyFromConfig(config);
  const policyFor = options.policyFor ?? (() => defaultPolicy);

  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GUARDRAILS_GRPC_PORT,
    logger,
    tracerName: "guardrails",
    services: [
      registerService(GuardrailsService, {
        async checkInput(req) {
          const result = checkInput(req, policyFor(req.tenant));
          if (!result.allowed) logBlock(logger, "input", req.requestId, result.verdicts);
          return {
            allowed: result.allowed,
            verdicts: result.verdicts,
            system: result.system,
            messages: result.messages,
          };
        },
        async checkOutput(req) {
          const result = checkOutput(req, policyFor(req.tenant));
          if (!result.allowed) logBlock(logger, "output", req.requestId, result.verdicts);
          return { allowed: result.allowed, verdicts: result.verdicts, content: result.content };
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
