import type { GatewayConfig } from "./config.js";

/**
 * A tenant's stored policy. An unset limit falls back to the gateway default; a limit of 0
 * switches that limit off.
 */
export interface TenantPolicy {
  tenant: string;
  requestsPerMinute?: number | undefined;
  tokensPerMinute?: number | undefined;
  keyRequestsPerMinute?: number | undefined;
  keyTokensPerMinute?: number | undefined;
  /** Catalog models the tenant may use; empty means every model. */
  allowedModels: readonly string[];
  cacheEnabled?: boolean | undefined;
  updatedAtMs?: number | undefined;
}

/** The policy in force: every default filled in. */
export interface EffectivePolicy {
  tenant: string;
  requestsPerMinute: number;
  tokensPerMinute: number;
  keyRequestsPerMinute: number;
  keyTokensPerMinute: number;
  allowedModels: readonly string[];
  cacheEnabled: boolean;
}

/** The defaults a tenant without a stored policy gets, from the gateway's config. */
export type PolicyDefaults = Omit<EffectivePolicy, "tenant" | "allowedModels">;

/** The defaults from the gateway's configuration. */
export function policyDefaults(config: GatewayConfig): PolicyDefaults {
  return {
    requestsPerMinute: config.RATE_LIMIT_TENANT_REQUESTS_PER_MINUTE,
    tokensPerMinute: config.RATE_LIMIT_TENANT_TOKENS_PER_MINUTE,
    keyRequestsPerMinute: config.RATE_LIMIT_REQUESTS_PER_MINUTE,
    keyTokensPerMinute: config.RATE_LIMIT_TOKENS_PER_MINUTE,
    cacheEnabled: config.CACHE_ENABLED,
  };
}

/** Fills the unset parts of a stored policy with the defaults. */
export function effectivePolicy(
  tenant: string,
  stored: TenantPolicy | undefined,
  defaults: PolicyDefaults,
): EffectivePolicy {
  return {
    tenant,
    requestsPerMinute: stored?.requestsPerMinute ?? defaults.requestsPerMinute,
    tokensPerMinute: stored?.tokensPerMinute ?? defaults.tokensPerMinute,
    keyRequestsPerMinute: stored?.keyRequestsPerMinute ?? defaults.keyRequestsPerMinute,
    keyTokensPerMinute: stored?.keyTokensPerMinute ?? defaults.keyTokensPerMinute,
    allowedModels: stored?.allowedModels ?? [],
    // The gateway-wide switch wins: a tenant cannot turn on a cache the operator turned off.
    cacheEnabled: defaults.cacheEnabled && (stored?.cacheEnabled ?? true),
  };
}

/**
 * The models a request may name: the key's list within the tenant's. Undefined means any
 * model; an empty array means none (the two lists do not overlap).
 */
export function allowedModels(
  keyModels: readonly string[],
  tenantModels: readonly string[],
): readonly string[] | undefined {
  if (keyModels.length === 0 && tenantModels.length === 0) return undefined;
  if (keyModels.length === 0) return tenantModels;
  if (tenantModels.length === 0) return keyModels;
  return keyModels.filter((m) => tenantModels.includes(m));
}
