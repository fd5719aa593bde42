import { readFileSync } from "node:fs";
import { z } from "@mesh/config";
import { parseUsdToNanos, type TokenPrices } from "@mesh/money";
import { parse as parseYaml } from "yaml";

/** Model tiers, from most capable to fastest. */
export const TIERS = ["top", "balanced", "fast"] as const;
export type Tier = (typeof TIERS)[number];

/** Provider kinds the orchestrator can call. */
export const PROVIDER_KINDS = ["anthropic", "openai", "openai-compatible", "simulator"] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

const price = z
  .string({ error: 'must be a quoted decimal dollar amount, e.g. "3.75"' })
  .regex(
    /^\d+(\.\d{1,9})?$/,
    'must be a decimal dollar amount with at most 9 decimals, e.g. "3.75"',
  );

const deploymentSchema = z
  .object({
    name: z.string().regex(NAME, "must be lowercase letters, digits, '.', '_' or '-'"),
    provider: z.enum(PROVIDER_KINDS),
    upstream_model: z.string().min(1).optional(),
    base_url: z.url().optional(),
    base_url_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
    api_key_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
    standby: z.boolean().default(false),
    weight: z.number().positive().default(1),
    /** Same as timeouts.total_ms (kept for catalogs written before `timeouts`). */
    timeout_ms: z.number().int().positive().optional(),
    timeouts: z
      .object({
        connect_ms: z.number().int().positive().optional(),
        first_token_ms: z.number().int().positive().optional(),
        total_ms: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** Seeds the deployment's latency estimate for load balancing (default: the model's). */
    expected_latency_ms: z.number().int().nonnegative().optional(),
  })
  .strict();

const modelSchema = z
  .object({
    name: z.string().regex(NAME, "must be lowercase letters, digits, '.', '_' or '-'"),
    tier: z.enum(TIERS),
    aliases: z.array(z.string().min(1)).default([]),
    context_window: z.number().int().positive(),
    max_output_tokens: z.number().int().positive(),
    capabilities: z
      .object({
        tools: z.boolean().default(false),
        images: z.boolean().default(false),
        reasoning: z.boolean().default(false),
      })
      .strict(),
    expected_latency_ms: z.number().int().nonnegative(),
    weight: z.number().positive().default(1),
    prices: z
      .object({ input: price, output: price, cache_write: price, cache_read: price })
      .strict(),
    deployments: z.array(deploymentSchema).min(1, "needs at least one deployment"),
  })
  .strict();

const catalogSchema = z
  .object({
    version: z.literal(1),
    models: z.array(modelSchema).min(1, "needs at least one model"),
  })
  .strict();

/** One way to reach a model: a provider kind, its upstream id, endpoint and credentials. */
export interface CatalogDeployment {
  /** `model@deployment`, unique in the catalog; keys breakers and logs. */
  readonly id: string;
  readonly name: string;
  readonly model: string;
  readonly provider: ProviderKind;
  /** Model id sent to the provider. */
  readonly upstreamModel: string;
  readonly baseUrl: string | undefined;
  /** Env var holding the key; the key itself is read once at load and kept off logs. */
  readonly apiKeyEnv: string | undefined;
  readonly apiKey: string | undefined;
  readonly standby: boolean;
  /** Share of traffic relative to the model's other deployments (load balancing). */
  readonly weight: number;
  /** Per-deployment timeouts; unset ones take the orchestrator's defaults. */
  readonly timeouts: DeploymentTimeouts;
  /** Latency expected before any is measured: the deployment's, else the model's. */
  readonly expectedLatencyMs: number;
  /** False when the deployment cannot be used (e.g. its key is unset); see disabledReason. */
  readonly enabled: boolean;
  readonly disabledReason: string | undefined;
}

/** Timeouts of one deployment, in milliseconds. */
export interface DeploymentTimeouts {
  /** Opening the TCP/TLS connection. */
  readonly connectMs?: number;
  /** From the request to the first output of a stream (text, tool call or the end). */
  readonly firstTokenMs?: number;
  /** From the request to the end of the answer. */
  readonly totalMs?: number;
}

/** A model of the catalog with prices in nano-dollars per million tokens. */
export interface CatalogModel {
  readonly name: string;
  readonly tier: Tier;
  readonly aliases: readonly string[];
  readonly contextWindow: number;
  readonly maxOutputTokens: number;
  readonly capabilities: { tools: boolean; images: boolean; reasoning: boolean };
  readonly expectedLatencyMs: number;
  readonly weight: number;
  readonly prices: TokenPrices;
  /** Every deployment listed, enabled or not, in catalog order. */
  readonly deployments: readonly CatalogDeployment[];
  /** The deployments requests go to, in order (standby ones only when no other is enabled). */
  readonly active: readonly CatalogDeployment[];
}

/** A validated catalog. */
export interface Catalog {
  readonly source: string;
  readonly models: readonly CatalogModel[];
  /** Finds a model by name or alias. */
  find(name: string): CatalogModel | undefined;
}

/** Catalog problems, every one of them, each prefixed by where it is. */
export class CatalogError extends Error {
  readonly problems: readonly string[];

  constructor(source: string, problems: string[]) {
    super(`invalid model catalog ${source}; fix these problems:\n  ${problems.join("\n  ")}`);
    this.name = "CatalogError";
    this.problems = problems;
  }
}

/** Settings that change how deployments resolve, beyond the catalog file itself. */
export interface CatalogLoadOptions {
  /** Where env var names in the catalog are looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Use only simulator deployments, whatever keys are set. */
  forceSimulator?: boolean;
}

/** Reads, validates and resolves a catalog file (YAML or JSON, by content). */
export function loadCatalogFile(path: string, options: CatalogLoadOptions = {}): Catalog {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CatalogError(path, [`cannot read the file (${reason}); set ORCHESTRATOR_CATALOG`]);
  }

  return parseCatalog(text, path, options);
}

/**
 * Validates catalog text and resolves each deployment against the environment. Every
 * problem found is reported in one CatalogError.
 */
export function parseCatalog(
  text: string,
  source: string,
  options: CatalogLoadOptions = {},
): Catalog {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new CatalogError(source, [`not valid YAML or JSON: ${reason}`]);
  }

  const problems = crossCheck(raw);
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${formatPath(raw, issue.path)}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new CatalogError(source, problems);

  const env = options.env ?? process.env;
  const models = parsed.data.models.map((m) => resolveModel(m, env, options.forceSimulator));
  const byName = new Map<string, CatalogModel>();
  for (const model of models) {
    byName.set(model.name, model);
    for (const alias of model.aliases) byName.set(alias, model);
  }

  return Object.freeze({ source, models, find: (name: string) => byName.get(name) });
}

type RawModel = z.infer<typeof modelSchema>;

function resolveModel(
  m: RawModel,
  env: NodeJS.ProcessEnv,
  forceSimulator = false,
): CatalogModel {
  const deployments = m.deployments.map((d): CatalogDeployment => {
    const apiKey = d.api_key_env ? blankToUndefined(env[d.api_key_env]) : undefined;
    const baseUrl = (d.base_url_env ? blankToUndefined(env[d.base_url_env]) : undefined) ??
      d.base_url;
    let disabledReason: string | undefined;
    if (forceSimulator && d.provider !== "simulator") {
      disabledReason = "ORCHESTRATOR_FORCE_SIMULATOR is set";
    } else if (d.api_key_env && !apiKey) {
      disabledReason = `${d.api_key_env} is not set`;
    }

    return Object.freeze({
      id: `${m.name}@${d.name}`,
      name: d.name,
      model: m.name,
      provider: d.provider,
      upstreamModel: d.upstream_model ?? m.name,
      baseUrl,
      apiKeyEnv: d.api_key_env,
      apiKey,
      standby: d.standby,
      weight: d.weight,
      timeouts: Object.freeze({
        connectMs: d.timeouts?.connect_ms,
        firstTokenMs: d.timeouts?.first_token_ms,
        totalMs: d.timeouts?.total_ms ?? d.timeout_ms,
      }),
      expectedLatencyMs: d.expected_latency_ms ?? m.expected_latency_ms,
      enabled: disabledReason === undefined,
      disabledReason,
    });
  });

  const primary = deployments.filter((d) => d.enabled && !d.standby);
  const active = primary.length > 0 ? primary : deployments.filter((d) => d.enabled);

  return Object.freeze({
    name: m.name,
    tier: m.tier,
    aliases: m.aliases,
    contextWindow: m.context_window,
    maxOutputTokens: m.max_output_tokens,
    capabilities: m.capabilities,
    expectedLatencyMs: m.expected_latency_ms,
    weight: m.weight,
    prices: {
      inputNanosPerMTok: parseUsdToNanos(m.prices.input),
      outputNanosPerMTok: parseUsdToNanos(m.prices.output),
      cacheWriteNanosPerMTok: parseUsdToNanos(m.prices.cache_write),
      cacheReadNanosPerMTok: parseUsdToNanos(m.prices.cache_read),
    },
    deployments,
    active,
  });
}

/**
 * Checks that span several entries (names and aliases unique, deployment names unique per
 * model).
 * Runs on the raw document so these problems are reported alongside schema problems.
 */
function crossCheck(raw: unknown): string[] {
  const problems: string[] = [];
  const models = (raw as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) return problems;

  const seen = new Map<string, string>();
  models.forEach((model: unknown, i) => {
    const m = model as { name?: unknown; aliases?: unknown; deployments?: unknown } | null;
    const label = typeof m?.name === "string" ? `models[${i}:${m.name}]` : `models[${i}]`;
    const names = [m?.name, ...(Array.isArray(m?.aliases) ? m.aliases : [])];
    for (const name of names) {
      if (typeof name !== "string") continue;
      const owner = seen.get(name);
      if (owner !== undefined) {
        problems.push(`${label}: name or alias "${name}" is already used by ${owner}`);
      } else {
        seen.set(name, label);
      }
    }

    const deploymentNames = new Set<string>();
    if (!Array.isArray(m?.deployments)) return;
    (m.deployments as Array<RawDeploymentShape | null>).forEach((d, j) => {
      const where = typeof d?.name === "string"
        ? `${label}.deployments[${j}:${d.name}]`
        : `${label}.deployments[${j}]`;
      problems.push(...deploymentProblems(d, where));
      if (typeof d?.name !== "string") return;
      if (deploymentNames.has(d.name)) {
        problems.push(`${label}: deployment name "${d.name}" appears twice`);
      }
      deploymentNames.add(d.name);
    });
  });
  return problems;
}

interface RawDeploymentShape {
  name?: unknown;
  provider?: unknown;
  base_url?: unknown;
  base_url_env?: unknown;
  api_key_env?: unknown;
  timeout_ms?: unknown;
  timeouts?: { total_ms?: unknown } | null;
}

/** Rules a deployment must follow that depend on its provider kind. */
function deploymentProblems(d: RawDeploymentShape | null, where: string): string[] {
  const problems: string[] = [];
  if (!d) return problems;
  if (d.provider === "openai-compatible" && d.base_url === undefined &&
    d.base_url_env === undefined) {
    problems.push(`${where}: an openai-compatible deployment needs base_url (or base_url_env), ` +
      'the server\'s URL including /v1, e.g. "http://vllm:8000/v1"');
  }
  if (d.provider === "openai" && d.api_key_env === undefined) {
    problems.push(`${where}: an openai deployment needs api_key_env, the env var holding its key`);
  }
  if (d.timeout_ms !== undefined && d.timeouts?.total_ms !== undefined) {
    problems.push(`${where}: timeout_ms and timeouts.total_ms are the same setting; keep one`);
  }
  return problems;
}

/** Names list entries by index and name: "models[0:claude-opus-4].prices.input". */
function formatPath(raw: unknown, path: PropertyKey[]): string {
  const parts: string[] = [];
  let node: unknown = raw;
  for (const key of path) {
    const child = (node as Record<PropertyKey, unknown> | null)?.[key];
    const name = (child as { name?: unknown } | null)?.name;
    if (typeof key === "number") {
      parts.push(typeof name === "string" ? `[${key}:${name}]` : `[${key}]`);
    } else {
      parts.push(parts.length === 0 ? String(key) : `.${String(key)}`);
    }
    node = child;
  }
  return parts.join("") || "(catalog)";
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
