import { cors as connectCors } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastifyCors from "@fastify/cors";
import { onShutdownSignal } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { createHealthProbe, startGrpcServer } from "@mesh/rpc";
import Fastify from "fastify";
import { connectAdminRoutes, createAdminHandlers, grpcAdminService } from "./admin-api.js";
import { registerAnthropicApi } from "./anthropic-api.js";
import { parseStaticKeys } from "./api-keys.js";
import { connectBillingRoutes, createBillingHandlers, grpcBillingService } from "./billing-api.js";
import { type GatewayConfig, resolveOutboxDir } from "./config.js";
import { connectRoutes } from "./connect-api.js";
import { grpcGatewayService } from "./grpc-api.js";
import { registerHttpErrors } from "./http-errors.js";
import { registerJsonBody } from "./json-body.js";
import { createKeyStore, type KeyBackend, type KeyStore } from "./key-store.js";
import { createMemoryKeyBackend } from "./key-store-memory.js";
import { createLimitCounters } from "./limit-counters.js";
import { registerOpenAiApi } from "./openai-api.js";
import { createMeshClients, createPipeline } from "./pipeline.js";
import { createRequestLimits } from "./rate-limits.js";
import { createRequestIdClaims, normaliseRequestId } from "./request-id.js";
import { createResponseCache } from "./response-cache.js";
import { connectStores } from "./stores.js";
import { policyDefaults } from "./tenant-policy.js";
import { createTokenLimits } from "./token-limits.js";
import { createLedgerOutbox, createMetricsBatcher } from "./usage-report.js";

// The SDKs' x-stainless-* telemetry headers; a preflight refusing any of them fails the call.
const STAINLESS_HEADERS = [
  "lang",
  "package-version",
  "os",
  "arch",
  "runtime",
  "runtime-version",
  "retry-count",
  "timeout",
  "helper",
  "helper-method",
  "async",
].map((name) => `x-stainless-${name}`);

/** A running gateway. */
export interface GatewayHandle {
  httpPort: number;
  grpcPort: number;
  stop(): Promise<void>;
}

/**
 * Starts the gateway: the gRPC API (GatewayService, AdminService, BillingService) on one port;
 * Connect, the Anthropic- and OpenAI-compatible APIs and the Kubernetes probes on the HTTP port.
 * Clients, stores and limiters are built here once.
 */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
): Promise<GatewayHandle> {
  const stores = await connectStores(config.REDIS_URL, logger);
  const defaults = policyDefaults(config);
  const keys = await createKeyStore({
    backend: await keyBackend(config, logger),
    staticKeys: parseStaticKeys(config.GATEWAY_API_KEYS),
    defaults,
    cacheTtlMs: config.KEY_CACHE_TTL_MS,
    redis: stores.redis,
    logger,
  });
  await bootstrapKeys(config, keys, logger);

  const counters = createLimitCounters(stores.redis, config.RATE_LIMIT_FAILURE_MODE, logger);
  const cache = createResponseCache(
    stores.redis,
    config.CACHE_TTL_SECONDS,
    config.CACHE_MAX_ENTRIES,
    logger,
  );
  const meshClients = createMeshClients(config);
  // Usage records survive a ledger outage on local disk and go out in order once it is back.
  const usageOutbox = createLedgerOutbox(meshClients.ledger, {
    dir: resolveOutboxDir(config),
    logger,
  });
  // Observations leave in batches: one metrics call per few milliseconds, not per request.
  const observations = createMetricsBatcher(meshClients.metrics, logger);
  const pipeline = createPipeline(
    {
      config,
      logger,
      keys,
      requestLimits: createRequestLimits(counters),
      tokenLimits: createTokenLimits(counters),
      cache,
      usageOutbox,
      observations,
      requestIds: createRequestIdClaims(stores.redis, {
        ttlSeconds: config.REQUEST_ID_REUSE_TTL_SECONDS,
        maxEntries: config.REQUEST_ID_MEMORY_MAX,
        logger,
      }),
    },
    meshClients,
  );
  const admin = createAdminHandlers(keys, defaults, logger);
  const billing = createBillingHandlers(keys, meshClients.ledger, logger);
  const peers = {
    orchestrator: createHealthProbe(config.ORCHESTRATOR_ADDR),
    guardrails: createHealthProbe(config.GUARDRAILS_ADDR),
  };

  const app = Fastify({ logger: false, bodyLimit: config.REQUEST_BODY_LIMIT_BYTES });
  await app.register(fastifyCors, {
    origin: config.CORS_ORIGINS === "*" ? true : config.CORS_ORIGINS.split(","),
    methods: [...new Set([...connectCors.allowedMethods, "GET"])],
    allowedHeaders: [
      ...connectCors.allowedHeaders,
      "authorization",
      "x-api-key",
      "x-request-id",
      "anthropic-version",
      "anthropic-beta",
      "cache-control",
      "x-mesh-cache",
      "traceparent",
      "tracestate",
      "x-mesh-complexity",
      "x-mesh-requires-reasoning",
      "x-mesh-latency-sensitive",
      // What the official Anthropic and OpenAI SDKs send from a browser on every request.
      "anthropic-dangerous-direct-browser-access",
      "openai-organization",
      "openai-project",
      "openai-beta",
      ...STAINLESS_HEADERS,
    ],
    exposedHeaders: [
      ...connectCors.exposedHeaders,
      "x-request-id",
      "retry-after",
      "x-mesh-cache",
      "x-ratelimit-limit-requests",
      "x-ratelimit-remaining-requests",
      "x-ratelimit-reset-requests",
      "x-ratelimit-limit-tokens",
      "x-ratelimit-remaining-tokens",
      "x-ratelimit-reset-tokens",
      "request-id",
      "age",
      "x-error-reason",
      ...["requests", "tokens", "input-tokens", "output-tokens"].flatMap((kind) =>
        ["limit", "remaining", "reset"].map((part) => `anthropic-ratelimit-${kind}-${part}`),
      ),
    ],
    maxAge: 7_200,
  });

  // Every HTTP response carries the request id, errors before any handler included.
  app.addHook("onRequest", async (req, reply) => {
    const given = req.headers["x-request-id"];
    const caller = Array.isArray(given) ? given[0] : given;
    const requestId = normaliseRequestId(caller);
    req.headers["x-request-id"] = requestId;
    reply.header("x-request-id", requestId);
  });
  registerHttpErrors(app, config.REQUEST_BODY_LIMIT_BYTES, logger);
  await app.register(fastifyConnectPlugin, {
    routes: (router) => {
      connectRoutes(pipeline)(router);
      connectAdminRoutes(admin)(router);
      connectBillingRoutes(billing)(router);
    },
    readMaxBytes: config.REQUEST_BODY_LIMIT_BYTES,
    // Connect ignores unknown JSON fields and enum names by default; a misspelt field or group
    // would then change the answer without a word. Refuse them with the name at fault.
    jsonOptions: { ignoreUnknownFields: false },
  });
  // The REST APIs get their own scope: their strict JSON parser would clash with the no-op
  // parsers Connect's plugin installs for the same content type in its scope.
  await app.register(async (rest) => {
    registerJsonBody(rest, config.REQUEST_MAX_JSON_DEPTH);
    registerAnthropicApi(rest, pipeline, logger);
    registerOpenAiApi(rest, pipeline, logger);
  });

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
      keys.ping().then(
        () => void (checks.keys = config.DATABASE_URL ? "ok" : "in-process"),
        (e: Error) => void (checks.keys = e.message),
      ),
    ]);
    const ok = Object.values(checks).every((v) => v === "ok" || v === "in-process");
    return reply.code(ok ? 200 : 503).send({ status: ok ? "ready" : "not_ready", checks });
  });

  await app.listen({ host: config.HTTP_HOST, port: config.GATEWAY_HTTP_PORT });
  const httpPort = (app.server.address() as { port: number }).port;
  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GATEWAY_GRPC_PORT,
    logger,
    tracerName: "gateway",
    services: [grpcGatewayService(pipeline), grpcAdminService(admin), grpcBillingService(billing)],
  });

  const drainMs = config.SHUTDOWN_DEADLINE_MS - 2_000;
  let shutdownStartedAt = 0;
  const steps = [
    {
      name: "report not serving",
      run: async () => {
        shutdownStartedAt = Date.now();
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
      name: "send buffered metrics observations",
      // A hung metrics service must not eat the time the usage records need.
      run: () => withTimeout(observations.close(), OBSERVATIONS_CLOSE_MS),
    },
    {
      name: "deliver waiting usage records",
      run: async () => {
        // Whatever is still waiting stays on disk for the next start in this folder; the
        // budget leaves a second of the deadline for the steps after this one.
        const leftMs = config.SHUTDOWN_DEADLINE_MS - (Date.now() - shutdownStartedAt) - 1_000;
        const drained = await usageOutbox.drain(Math.max(0, Math.min(OUTBOX_DRAIN_MS, leftMs)));
        if (!drained) {
          logger.warn({ pending: usageOutbox.pending() }, "usage records left in the outbox");
        }
        // A send still in flight to a hung ledger must not hold the exit; the record stays.
        await withTimeout(usageOutbox.close(), 500);
      },
    },
    {
      name: "close clients and stores",
      run: async () => {
        pipeline.close();
        for (const probe of Object.values(peers)) probe.close();
        await keys.close();
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

/** How long shutdown waits for the ledger to take waiting usage records. */
const OUTBOX_DRAIN_MS = 5_000;
/** How long shutdown waits for the last metrics observations to be taken. */
const OBSERVATIONS_CLOSE_MS = 500;

async function keyBackend(config: GatewayConfig, logger: Logger): Promise<KeyBackend> {
  if (!config.DATABASE_URL) {
    logger.info("no DATABASE_URL set; API keys and tenant policies are kept in memory");
    return createMemoryKeyBackend();
  }
  const { createPostgresKeyBackend } = await import("./key-store-postgres.js");
  return createPostgresKeyBackend({
    databaseUrl: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    poolMax: config.DATABASE_POOL_MAX,
    logger,
  });
}

/**
 * Makes sure someone can administer the gateway, and that a development setup without keys
 * still has one key to call it with. Generated secrets go to stderr once, never to the log.
 */
async function bootstrapKeys(config: GatewayConfig, keys: KeyStore, logger: Logger) {
  const adminSecret = await keys.bootstrapAdmin(config.GATEWAY_ADMIN_KEY);
  if (adminSecret) {
    const lifetime = config.DATABASE_URL
      ? "shown this once, store it now"
      : "keys live in memory: a new one every start; set GATEWAY_ADMIN_KEY to keep one";
    printOnce(`admin API key (admin scope; ${lifetime})`, adminSecret);
    logger.warn("generated the bootstrap admin key and printed it to stderr once");
  }

  if (!config.GATEWAY_API_KEYS && !config.DATABASE_URL) {
    const { key, secret } = await keys.createKey({
      tenant: "dev",
      name: "development",
      scopes: ["inference", "metrics:read"],
      allowedModels: [],
    });
    printOnce("development API key for tenant dev (lost on restart)", secret);
    logger.warn({ keyId: key.keyId, tenant: "dev" }, "no GATEWAY_API_KEYS set; generated a key");
  }
}

function printOnce(what: string, secret: string): void {
  process.stderr.write(`\n  gateway ${what}:\n\n    ${secret}\n\n`);
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
