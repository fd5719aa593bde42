import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  AdminService,
  Scope as ProtoScope,
  type ApiKeySchema,
  type CreateApiKeyRequest,
  type GetTenantPolicyRequest,
  type ListApiKeysRequest,
  type RevokeApiKeyRequest,
  type SetTenantPolicyRequest,
  type TenantPolicySchema,
} from "@mesh/contracts/gateway/v1/admin_pb";
import type { Logger } from "@mesh/logging";
import { registerService, type ServiceRegistration } from "@mesh/rpc";
import { presentedKey, requireScope, type Scope, type StoredKey } from "./api-keys.js";
import { inConnectSpan } from "./connect-api.js";
import { invalidRequest } from "./errors.js";
import type { KeyStore } from "./key-store.js";
import type { HeaderReader } from "./pipeline.js";
import {
  effectivePolicy,
  type EffectivePolicy,
  type PolicyDefaults,
  type TenantPolicy,
} from "./tenant-policy.js";

const SCOPE_NAMES: Record<number, Scope> = {
  [ProtoScope.INFERENCE]: "inference",
  [ProtoScope.ADMIN]: "admin",
  [ProtoScope.METRICS_READ]: "metrics:read",
};
const SCOPE_VALUES: Record<Scope, ProtoScope> = {
  inference: ProtoScope.INFERENCE,
  admin: ProtoScope.ADMIN,
  "metrics:read": ProtoScope.METRICS_READ,
};
const TENANT_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_UINT32 = 4_294_967_295;

type ApiKeyInit = MessageInitShape<typeof ApiKeySchema>;
type PolicyInit = MessageInitShape<typeof TenantPolicySchema>;

/** The admin operations, independent of the protocol they arrive on. */
export interface AdminHandlers {
  createApiKey(req: CreateApiKeyRequest, header: HeaderReader): Promise<{
    key: ApiKeyInit;
    secret: string;
  }>;
  listApiKeys(req: ListApiKeysRequest, header: HeaderReader): Promise<{ keys: ApiKeyInit[] }>;
  revokeApiKey(req: RevokeApiKeyRequest, header: HeaderReader): Promise<{ key: ApiKeyInit }>;
  setTenantPolicy(req: SetTenantPolicyRequest, header: HeaderReader): Promise<{
    policy: PolicyInit;
  }>;
  getTenantPolicy(req: GetTenantPolicyRequest, header: HeaderReader): Promise<{
    policy: PolicyInit;
    effective: PolicyInit;
  }>;
}

/**
 * AdminService: creates, lists and revokes API keys and sets tenant policies. Every call needs
 * a key with the admin scope. Secrets appear once, in CreateApiKey's response, and never in a
 * log line.
 */
export function createAdminHandlers(
  keys: KeyStore,
  defaults: PolicyDefaults,
  logger: Logger,
): AdminHandlers {
  const authorize = async (header: HeaderReader) => {
    const identity = await keys.authenticate(presentedKey(header));
    requireScope(identity, "admin");
    return identity;
  };

  return {
    async createApiKey(req, header) {
      const admin = await authorize(header);
      const tenant = tenantName(req.tenant, "tenant");
      const scopes = req.scopes.length > 0 ? req.scopes.map(scopeName) : (["inference"] as Scope[]);
      const expiresAtMs = req.expiresAt ? timestampDate(req.expiresAt).getTime() : undefined;
      if (expiresAtMs !== undefined && expiresAtMs <= Date.now()) {
        throw invalidRequest("expires_at: must be in the future");
      }
      if (req.name.length > 200) throw invalidRequest("name: at most 200 characters");

      const { key, secret } = await keys.createKey({
        tenant,
        name: req.name,
        scopes: [...new Set(scopes)],
        allowedModels: modelNames(req.allowedModels),
        expiresAtMs,
      });
      logger.info(
        { keyId: key.keyId, tenant, scopes: key.scopes, by: admin.keyId },
        "api key created",
      );
      return { key: apiKey(key), secret };
    },

    async listApiKeys(req, header) {
      await authorize(header);
      const filter = req.tenant
        ? { tenant: req.tenant, includeRevoked: req.includeRevoked }
        : { includeRevoked: req.includeRevoked };
      return { keys: (await keys.listKeys(filter)).map(apiKey) };
    },

    async revokeApiKey(req, header) {
      const admin = await authorize(header);
      if (!req.keyId) throw invalidRequest("key_id: required");

      const key = await keys.revokeKey(req.keyId);
      logger.info({ keyId: key.keyId, tenant: key.tenant, by: admin.keyId }, "api key revoked");
      return { key: apiKey(key) };
    },

    async setTenantPolicy(req, header) {
      const admin = await authorize(header);
      const p = req.policy;
      if (!p) throw invalidRequest("policy: required");

      const policy: TenantPolicy = {
        tenant: tenantName(p.tenant, "policy.tenant"),
        requestsPerMinute: p.requestsPerMinute,
        tokensPerMinute: limitNumber(p.tokensPerMinute, "policy.tokens_per_minute"),
        keyRequestsPerMinute: p.keyRequestsPerMinute,
        keyTokensPerMinute: limitNumber(p.keyTokensPerMinute, "policy.key_tokens_per_minute"),
        allowedModels: modelNames(p.allowedModels),
        cacheEnabled: p.cacheEnabled,
      };
      const saved = await keys.setPolicy(policy);
      logger.info({ tenant: saved.tenant, by: admin.keyId }, "tenant policy set");
      return { policy: storedPolicy(saved) };
    },

    async getTenantPolicy(req, header) {
      await authorize(header);
      const tenant = tenantName(req.tenant, "tenant");

      const stored = await keys.storedPolicy(tenant);
      return {
        policy: stored ? storedPolicy(stored) : { tenant },
        effective: effective(effectivePolicy(tenant, stored, defaults)),
      };
    },
  };
}

/** AdminService on the gateway's gRPC server. */
export function grpcAdminService(handlers: AdminHandlers): ServiceRegistration {
  return registerService(AdminService, {
    createApiKey: (req, call) => handlers.createApiKey(req, call.header),
    listApiKeys: (req, call) => handlers.listApiKeys(req, call.header),
    revokeApiKey: (req, call) => handlers.revokeApiKey(req, call.header),
    setTenantPolicy: (req, call) => handlers.setTenantPolicy(req, call.header),
    getTenantPolicy: (req, call) => handlers.getTenantPolicy(req, call.header),
  });
}

/** AdminService over Connect, on the HTTP port. */
export function connectAdminRoutes(handlers: AdminHandlers) {
  const span = (method: string) => `gateway.v1.AdminService/${method}`;
  return (router: ConnectRouter) =>
    router.service(AdminService, {
      createApiKey: (req, ctx) =>
        inConnectSpan(ctx, span("CreateApiKey"), (h) => handlers.createApiKey(req, h)),
      listApiKeys: (req, ctx) =>
        inConnectSpan(ctx, span("ListApiKeys"), (h) => handlers.listApiKeys(req, h)),
      revokeApiKey: (req, ctx) =>
        inConnectSpan(ctx, span("RevokeApiKey"), (h) => handlers.revokeApiKey(req, h)),
      setTenantPolicy: (req, ctx) =>
        inConnectSpan(ctx, span("SetTenantPolicy"), (h) => handlers.setTenantPolicy(req, h)),
      getTenantPolicy: (req, ctx) =>
        inConnectSpan(ctx, span("GetTenantPolicy"), (h) => handlers.getTenantPolicy(req, h)),
    });
}

function tenantName(value: string, field: string): string {
  if (!TENANT_NAME.test(value)) {
    throw invalidRequest(`${field}: required, 1 to 128 letters, digits or . _ : -`);
  }
  return value;
}

function scopeName(value: ProtoScope): Scope {
  const scope = SCOPE_NAMES[value];
  if (!scope) {
    throw invalidRequest(`scopes: ${value} is not a scope; use INFERENCE, ADMIN or METRICS_READ`);
  }
  return scope;
}

function modelNames(models: readonly string[]): string[] {
  if (models.some((m) => m.trim() === "")) throw invalidRequest("allowed_models: empty model name");
  return [...new Set(models)];
}

function limitNumber(value: bigint | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidRequest(`${field}: too large`);
  return Number(value);
}

function apiKey(key: StoredKey): ApiKeyInit {
  return {
    keyId: key.keyId,
    tenant: key.tenant,
    name: key.name,
    scopes: key.scopes.map((s) => SCOPE_VALUES[s]),
    allowedModels: [...key.allowedModels],
    secretPrefix: key.secretPrefix,
    createdAt: timestampFromMs(key.createdAtMs),
    expiresAt: optionalTimestamp(key.expiresAtMs),
    revokedAt: optionalTimestamp(key.revokedAtMs),
  };
}

function storedPolicy(p: TenantPolicy): PolicyInit {
  return {
    tenant: p.tenant,
    requestsPerMinute: p.requestsPerMinute,
    tokensPerMinute: optionalBigInt(p.tokensPerMinute),
    keyRequestsPerMinute: p.keyRequestsPerMinute,
    keyTokensPerMinute: optionalBigInt(p.keyTokensPerMinute),
    allowedModels: [...p.allowedModels],
    cacheEnabled: p.cacheEnabled,
    updatedAt: optionalTimestamp(p.updatedAtMs),
  };
}

function effective(p: EffectivePolicy): PolicyInit {
  return {
    tenant: p.tenant,
    requestsPerMinute: Math.min(p.requestsPerMinute, MAX_UINT32),
    tokensPerMinute: BigInt(p.tokensPerMinute),
    keyRequestsPerMinute: Math.min(p.keyRequestsPerMinute, MAX_UINT32),
    keyTokensPerMinute: BigInt(p.keyTokensPerMinute),
    allowedModels: [...p.allowedModels],
    cacheEnabled: p.cacheEnabled,
  };
}

function optionalBigInt(value: number | undefined): bigint | undefined {
  return value === undefined ? undefined : BigInt(value);
}

function optionalTimestamp(ms: number | undefined): Timestamp | undefined {
  return ms === undefined ? undefined : timestampFromMs(ms);
}
