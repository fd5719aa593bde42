import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CatalogError, loadCatalogFile, parseCatalog } from "./catalog.js";
import { DEFAULT_CATALOG_PATH } from "./config.js";

describe("default catalog", () => {
  it("holds the three tiers with prices split as Anthropic publishes them", () => {
    const catalog = loadCatalogFile(DEFAULT_CATALOG_PATH, { env: {} });

    const rows = catalog.models.map((m) => [
      m.name,
      m.tier,
      m.contextWindow,
      m.prices.inputNanosPerMTok,
      m.prices.outputNanosPerMTok,
      m.prices.cacheWriteNanosPerMTok,
      m.prices.cacheReadNanosPerMTok,
    ]);
    expect(rows).toEqual([
      ["claude-opus-4", "top", 200_000, 15_000_000_000n, 75_000_000_000n, 18_750_000_000n,
        1_500_000_000n],
      ["claude-sonnet-4", "balanced", 200_000, 3_000_000_000n, 15_000_000_000n, 3_750_000_000n,
        300_000_000n],
      ["claude-haiku-3", "fast", 200_000, 250_000_000n, 1_250_000_000n, 300_000_000n,
        30_000_000n],
    ]);
  });

  it("routes every model to the simulator when ANTHROPIC_API_KEY is unset", () => {
    const catalog = loadCatalogFile(DEFAULT_CATALOG_PATH, { env: {} });

    const sonnet = catalog.find("claude-sonnet-4");
    expect(sonnet?.active.map((d) => d.id)).toEqual(["claude-sonnet-4@simulator"]);
    expect(sonnet?.deployments[0]?.enabled).toBe(false);
    expect(sonnet?.deployments[0]?.disabledReason).toBe("ANTHROPIC_API_KEY is not set");
  });

  it("uses the anthropic deployments, with the base URL from env, when a key is set", () => {
    const env = { ANTHROPIC_API_KEY: "sk-test", ANTHROPIC_BASE_URL: "http://127.0.0.1:9" };
    const catalog = loadCatalogFile(DEFAULT_CATALOG_PATH, { env });

    const haiku = catalog.find("claude-haiku");
    expect(haiku?.name).toBe("claude-haiku-3");
    expect(haiku?.active.map((d) => [d.id, d.upstreamModel, d.baseUrl])).toEqual([
      ["claude-haiku-3@anthropic", "claude-3-haiku-20240307", "http://127.0.0.1:9"],
    ]);
  });

  it("keeps the simulator only when forced", () => {
    const catalog = loadCatalogFile(DEFAULT_CATALOG_PATH, {
      env: { ANTHROPIC_API_KEY: "sk-test" },
      forceSimulator: true,
    });

    expect(catalog.models.map((m) => m.active.map((d) => d.provider))).toEqual([
      ["simulator"],
      ["simulator"],
      ["simulator"],
    ]);
  });
});

describe("default catalog examples", () => {
  it("documents the other provider kinds with examples that are a valid catalog", () => {
    const lines = readFileSync(DEFAULT_CATALOG_PATH, "utf8").split("\n");
    const start = lines.findIndex((l) => l.startsWith("#  - name: gpt-4.1"));
    const end = lines.findIndex((l) => l.startsWith("version: 1"));
    const examples = lines.slice(start, end).map((l) => l.replace(/^#/, "")).join("\n");

    const catalog = parseCatalog(`version: 1\nmodels:\n${examples}`, "examples", {
      env: { OPENAI_API_KEY: "sk", VLLM_B_BASE_URL: "http://vllm-b:8000/v1" },
    });

    expect(catalog.models.map((m) => [m.name, m.active.map((d) => [d.id, d.provider,
      d.baseUrl, d.weight])])).toEqual([
      ["gpt-4.1", [["gpt-4.1@openai", "openai", "https://api.openai.com/v1", 1]]],
      ["llama-3.1-8b", [
        ["llama-3.1-8b@vllm-a", "openai-compatible", "http://vllm-a.models.svc:8000/v1", 2],
        ["llama-3.1-8b@vllm-b", "openai-compatible", "http://vllm-b:8000/v1", 1],
      ]],
    ]);
    expect(catalog.find("llama-3.1-8b")?.deployments[0]?.timeouts).toEqual({
      connectMs: 1_000, firstTokenMs: 5_000, totalMs: 60_000 });
  });
});

describe("catalog validation", () => {
  it("reports every problem at once", () => {
    const text = `
version: 1
models:
  - name: big
    tier: huge
    context_window: -5
    max_output_tokens: 100
    capabilities: {}
    expected_latency_ms: 10
    prices: { input: 3, output: "1.2.3", cache_write: "1", cache_read: "1" }
    deployments:
      - { name: a, provider: simulator }
      - { name: a, provider: openai-ish }
  - name: big
    tier: fast
    context_window: 1000
    max_output_tokens: 100
    capabilities: {}
    expected_latency_ms: 10
    prices: { input: "1", output: "1", cache_write: "1", cache_read: "1" }
    deployments: []
`;

    let error: unknown;
    try {
      parseCatalog(text, "test.yaml");
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(CatalogError);
    expect((error as CatalogError).problems).toEqual([
      'models[0:big]: deployment name "a" appears twice',
      'models[1:big]: name or alias "big" is already used by models[0:big]',
      'models[0:big].tier: Invalid option: expected one of "top"|"balanced"|"fast"',
      "models[0:big].context_window: Too small: expected number to be >0",
      'models[0:big].prices.input: must be a quoted decimal dollar amount, e.g. "3.75"',
      'models[0:big].prices.output: must be a decimal dollar amount with at most 9 decimals, ' +
        'e.g. "3.75"',
      'models[0:big].deployments[1:a].provider: Invalid option: expected one of ' +
        '"anthropic"|"openai"|"openai-compatible"|"simulator"',
      "models[1:big].deployments: needs at least one deployment",
    ]);
    expect((error as Error).message).toContain("invalid model catalog test.yaml");
  });

  it("rejects a file that is not YAML", () => {
    expect(() => parseCatalog("models: [unclosed", "bad.yaml")).toThrow(/not valid YAML/);
  });

  it("names the env var when the catalog file is missing", () => {
    expect(() => loadCatalogFile("/nonexistent/catalog.yaml")).toThrow(/ORCHESTRATOR_CATALOG/);
  });
});

describe("deployment rules by provider kind", () => {
  const catalogWith = (deployments: string) => `
version: 1
models:
  - name: m
    tier: fast
    context_window: 8192
    max_output_tokens: 1024
    capabilities: {}
    expected_latency_ms: 10
    prices: { input: "1", output: "1", cache_write: "0", cache_read: "0" }
    deployments:
${deployments}`;

  it("needs a base URL for openai-compatible, a key for openai, one total timeout", () => {
    const text = catalogWith(`      - { name: a, provider: openai-compatible }
      - { name: b, provider: openai }
      - { name: c, provider: simulator, timeout_ms: 5, timeouts: { total_ms: 5 } }`);

    expect(() => parseCatalog(text, "t")).toThrow(CatalogError);
    try {
      parseCatalog(text, "t");
    } catch (err) {
      expect((err as CatalogError).problems).toEqual([
        "models[0:m].deployments[0:a]: an openai-compatible deployment needs base_url (or " +
          'base_url_env), the server\'s URL including /v1, e.g. "http://vllm:8000/v1"',
        "models[0:m].deployments[1:b]: an openai deployment needs api_key_env, the env var " +
          "holding its key",
        "models[0:m].deployments[2:c]: timeout_ms and timeouts.total_ms are the same setting; " +
          "keep one",
      ]);
    }
  });

  it("serves a self-hosted server with no key, and reads timeouts", () => {
    const catalog = parseCatalog(catalogWith(`      - name: local
        provider: openai-compatible
        base_url: http://127.0.0.1:8000/v1
        timeouts: { connect_ms: 100, first_token_ms: 200 }
        timeout_ms: 300
        expected_latency_ms: 42`), "t", { env: {} });

    const d = catalog.find("m")?.active[0];
    expect([d?.enabled, d?.apiKey, d?.timeouts, d?.expectedLatencyMs]).toEqual([true,
      undefined, { connectMs: 100, firstTokenMs: 200, totalMs: 300 }, 42]);
  });
});
