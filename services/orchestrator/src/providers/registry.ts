import type { Logger } from "@mesh/logging";
import type { Catalog, CatalogDeployment } from "../catalog.js";
import { createAnthropicProvider } from "./anthropic.js";
import { createOpenAIProvider } from "./openai.js";
import { createSimulatorProvider, type SimulatorSettings } from "./simulator.js";
import type { Provider } from "./types.js";

/** What building providers needs besides the catalog. */
export interface ProviderSettings {
  /** Per-request timeout for network providers whose deployment sets none. */
  timeoutMs: number;
  /** Connect timeout for network providers whose deployment sets none. */
  connectTimeoutMs: number;
  simulator: SimulatorSettings;
  logger: Logger;
}

/** The provider of every enabled deployment, keyed by deployment id. */
export type ProviderRegistry = ReadonlyMap<string, Provider>;

/**
 * Builds one provider per enabled deployment of the catalog, once, at load: SDK clients
 * and their connection pools are reused by every request.
 */
export function createProviders(catalog: Catalog, settings: ProviderSettings): ProviderRegistry {
  const providers = new Map<string, Provider>();
  for (const model of catalog.models) {
    for (const deployment of model.deployments) {
      if (deployment.enabled) providers.set(deployment.id, createProvider(deployment, settings));
    }
  }
  return providers;
}

function createProvider(deployment: CatalogDeployment, settings: ProviderSettings): Provider {
  switch (deployment.provider) {
    case "anthropic":
      return createAnthropicProvider(deployment, {
        timeoutMs: settings.timeoutMs,
        connectTimeoutMs: settings.connectTimeoutMs,
        logger: settings.logger,
      });
    case "openai":
    case "openai-compatible":
      return createOpenAIProvider(deployment, {
        timeoutMs: settings.timeoutMs,
        connectTimeoutMs: settings.connectTimeoutMs,
        logger: settings.logger,
      });
    case "simulator":
      return createSimulatorProvider(deployment, settings.simulator);
  }
}
