import { cors as connectCors } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastifyCors from "@fastify/cors";
import { onShutdownSignal } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { createHealthProbe, startGrpcServer } from "@mesh/rpc";
import Fastify, { type FastifyError } from "fastify";
import { registerAnthropicApi, sendAnthropicError } from "./anthropic-api.js";
import { createApiKeyStore } from "./api-keys.js";
import type { GatewayConfig } from "./config.js";
import { connectRoutes } from "./connect-api.js";
import { invalidRequest } from "./errors.js";
import { grpcGatewayService } from "./grpc-api.js";
import { createMeshClients, createPipeline } from "./pipeline.js";
import { createRateLimits } from "./rate-limits.js";
import { createResponseCache } from "./response-cache.js";
import { connectStores } from "./stores.js";

/** A running gateway. */
export interface GatewayHandle {
  httpPort: number;
  grpcPort: number;
  stop(): Promise<void>;
}

/**
 * Starts the gateway: the gRPC API on one port; Connect, the Anthropic-compatible API and
 * the Kubernetes probes on the HTTP port. Clients, stores and limiters are built here once.
 */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
): Promise<GatewayHandle> {
  const stores = await connectStores(config.REDIS_URL, logger);
  const keys = createApiKeyStore(config.GATEWAY_API_KEYS, logger);
  const limits = createRateLimits(stores.redis, config.RATE_LIMIT_REQUESTS_PER_MINUTE);
  const cache = createResponseCache(
    stores.redis,
    config.CACHE_TTL_SECONDS,
    config.CACHE_MAX_ENTRIES,
    logger,
  );
  const pipeline = createPipeline({ config, logger, keys, limits, cache }, createMeshClients(config));
  const peers = {
    orchestrator: createHealthProbe(config.ORCHESTRATOR_ADDR),
    guardrails: createHealthProbe(config.GUARDRAILS_ADDR),
  };

  const app = Fastify({ logger: false, bodyLimit: config.REQUEST_BODY_LIMIT_BYTES });
  await app.register(fastifyCors, {
    origin: config.CORS_ORIGINS === "*" ? true : config.CORS_ORIGINS.split(","),
    methods: [...connectCors.allowedMethods],
    allowedHeaders: [
      ...connectCors.allowedHeaders,
      "authorization",
      "x-api-key",
      "x-request-id",
      "anthropic-version",
      "anthropic-beta",
      "traceparent",
      "tracestate",
    ],
    exposedHeaders: [...connectCors.exposedHeaders, "x-request-id", "retry-after"],
    maxAge: 7_200,
  });
  await app.register(fastifyConnectPlugin, { routes: connectRoutes(pipeline) });
  registerAnthropicApi(app, pipeline, logger);

  let ready = true;
  app.get("/health", async () => ({ status: "ok" }));
  app.get("/ready", async (_req, reply) => {
    if (!ready) return reply.code(503).send({ status: "shutting_down" });

    const checks: Record<string, string> = {};
    await Promise.all([
      ...Object.entries(peers).map(async ([name, probe]) => {
        checks[name] = await probe.check(1_000).then(() => "ok", (e: Error) => e.message);
      }),
      stores.ping().then(
        () => void (checks.redis = stores.redis ? "ok" : "in-process"),
        (e: Error) => void (checks.redis = e.message),
      ),
    ]);
    const ok = Object.values(checks).every((v) => v === "ok" || v === "in-process");
    return reply.code(ok ? 200 : 503).send({ status: ok ? "ready" : "not_ready", checks });
  });

  // Body-parser and routing errors on the Anthropic API still get Anthropic's error JSON.
  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    if (err.statusCode && err.statusCode < 500) {
      const message = err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
        ? "content-type must be application/json"
        : `malformed request body: ${err.message}`;
      return sendAnthropicError(reply, invalidRequest(message));
    }
    logger.error({ err, url: req.url }, "unhandled error in HTTP handler");
    return reply.code(500).send({
      type: "error",
      error: { type: "api_error", message: "internal error" },
    });
  });
  app.setNotFoundHandler(async (req, reply) =>
    reply.code(404).send({
      type: "error",
      error: { type: "not_found_error", message: `no route for ${req.method} ${req.url}` },
    }),
  );

  await app.listen({ host: config.HTTP_HOST, port: config.GATEWAY_HTTP_PORT });
  const httpPort = (app.server.address() as { port: number }).port;
  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GATEWAY_GRPC_PORT,
    logger,
    tracerName: "gateway",
    services: [grpcGatewayService(pipeline)],
  });

  const drainMs = config.SHUTDOWN_DEADLINE_MS - 2_000;
  const steps = [
    {
      name: "report not serving",
      run: async () => {
        ready = false;
        grpc.markNotServing();
      },
    },
    {
      name: "drain in-flight requests",
      run: async () => {
        // Idle keep-alive connections are closed at once; busy ones after their response.
        const closing = app.close();
        app.server.closeIdleConnections();
        const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
        await Promise.all([grpc.shutdown(drainMs), withTimeout(closing, drainMs)]);
        clearInterval(sweep);
      },
    },
    {
      name: "close clients and stores",
      run: async () => {
        pipeline.close();
        for (const probe of Object.values(peers)) probe.close();
        await stores.close();
      },
    },
    { name: "flush telemetry", run: flushTelemetry },
  ];
  const stop = async () => {
    for (const step of steps) await step.run();
  };
  onShutdownSignal(logger, config.SHUTDOWN_DEADLINE_MS, steps);

  logger.info({ httpPort, grpcPort: grpc.port }, "gateway listening");
  return { httpPort, grpcPort: grpc.port, stop };
}

function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    work.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
