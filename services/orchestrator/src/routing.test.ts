import { Complexity, Role } from "@mesh/contracts/common/v1/chat_pb";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import { loadCatalogFile, parseCatalog } from "./catalog.js";
import { DEFAULT_CATALOG_PATH } from "./config.js";
import { planRoute, type RoutingOptions } from "./routing.js";
import { chatParams } from "./testkit.js";

const catalog = loadCatalogFile(DEFAULT_CATALOG_PATH, { env: {} });
const options: RoutingOptions = { defaultMaxTokens: 1024, fallbackExplicit: true };

function order(plan: ReturnType<typeof planRoute>) {
  return plan.candidates.map((c) => c.model.name);
}

function rpcErrorOf(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error("expected an RpcError");
}

describe("planRoute", () => {
  it("sends a request without hints to the balanced tier, then fast, then top", () => {
    const plan = planRoute(catalog, chatParams(), options);

    expect(order(plan)).toEqual(["claude-sonnet-4", "claude-haiku-3", "claude-opus-4"]);
    expect(plan.tier).toBe("balanced");
    expect(plan.reason).toBe("no routing hint → balanced tier");
    expect(plan.candidates[0]?.maxTokens).toBe(1024);
  });

  it("sends high complexity to the top tier, then balanced, then fast", () => {
    const plan = planRoute(
      catalog,
      chatParams("x", { hints: { complexity: Complexity.HIGH, latencySensitive: true } }),
      options,
    );

    expect(order(plan)).toEqual(["claude-opus-4", "claude-sonnet-4", "claude-haiku-3"]);
    expect(plan.reason).toBe("complexity high → top tier");
  });

  it("sends requires_reasoning to the top tier", () => {
    const params = chatParams("x", { hints: { requiresReasoning: true } });

    const plan = planRoute(catalog, params, options);

    expect(plan.tier).toBe("top");
    expect(plan.reason).toBe("requires_reasoning → top tier");
  });

  it("sends latency_sensitive to the fast tier, then balanced, then top", () => {
    const params = chatParams("x", { hints: { latencySensitive: true } });

    const plan = planRoute(catalog, params, options);

    expect(order(plan)).toEqual(["claude-haiku-3", "claude-sonnet-4", "claude-opus-4"]);
    expect(plan.reason).toBe("latency_sensitive → fast tier");
  });

  it("honours a named model or alias, then falls back in its tier's order", () => {
    const plan = planRoute(catalog, chatParams("x", { model: "claude-opus" }), options);

    expect(order(plan)).toEqual(["claude-opus-4", "claude-sonnet-4", "claude-haiku-3"]);
    expect(plan.reason).toBe("model named in the request");
    expect(plan.explicit).toBe(true);
  });

  it("keeps a named model alone when explicit fallback is off", () => {
    const plan = planRoute(catalog, chatParams("x", { model: "claude-haiku-3" }), {
      ...options,
      fallbackExplicit: false,
    });

    expect(order(plan)).toEqual(["claude-haiku-3"]);
  });

  it("rejects an unknown model with invalid_model and the valid names", () => {
    const err = rpcErrorOf(() => planRoute(catalog, chatParams("x", { model: "gpt-9" }), options));

    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err.reason).toBe("invalid_model");
    expect(err.message).toBe(
      'params.model "gpt-9" is not in the catalog; use one of: claude-opus-4, ' +
        "claude-sonnet-4, claude-haiku-3",
    );
  });

  it("skips a fast model whose output limit is below max_tokens", () => {
    const plan = planRoute(
      catalog,
      chatParams("x", { hints: { latencySensitive: true }, maxTokens: 8000 }),
      options,
    );

    expect(order(plan)).toEqual(["claude-sonnet-4", "claude-opus-4"]);
    expect(plan.skipped).toEqual([
      { model: "claude-haiku-3", reason: "max_tokens 8000 is above its limit of 4096" },
    ]);
    expect(plan.reason).toBe(
      "latency_sensitive → fast tier; none usable there, balanced tier next in fallback order",
    );
  });

  it("caps the default max_tokens at a model's own limit", () => {
    const plan = planRoute(catalog, chatParams(), { ...options, defaultMaxTokens: 10_000 });

    expect(plan.candidates.map((c) => c.maxTokens)).toEqual([10_000, 4096, 10_000]);
  });

  it("rejects max_tokens above a named model's limit", () => {
    const err = rpcErrorOf(() =>
      planRoute(catalog, chatParams("x", { model: "claude-haiku-3", maxTokens: 5000 }), options),
    );

    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err.reason).toBe("max_tokens_too_large");
    expect(err.message).toContain("max_tokens 5000 is above its limit of 4096");
  });

  it("skips models whose context window cannot hold the prompt plus max_tokens", () => {
    const small = parseCatalog(
      `version: 1
models:
  - name: small
    tier: balanced
    context_window: 100
    max_output_tokens: 50
    capabilities: {}
    expected_latency_ms: 1
    prices: { input: "1", output: "1", cache_write: "1", cache_read: "1" }
    deployments: [{ name: sim, provider: simulator }]
  - name: large
    tier: top
    context_window: 1000
    max_output_tokens: 50
    capabilities: {}
    expected_latency_ms: 1
    prices: { input: "1", output: "1", cache_write: "1", cache_read: "1" }
    deployments: [{ name: sim, provider: simulator }]
`,
      "inline",
    );

    // 240 ASCII bytes are 60 tokens by the mesh's rule; 60 + 50 > 100.
    const plan = planRoute(small, chatParams("a".repeat(240), { maxTokens: 50 }), options);

    expect(order(plan)).toEqual(["large"]);
    expect(plan.promptTokens).toBe(60);
    expect(plan.skipped).toEqual([
      {
        model: "small",
        reason: "prompt of about 60 tokens plus max_tokens 50 exceeds its context window of 100",
      },
    ]);
  });

  it("rejects a request no model can hold", () => {
    const params = chatParams("x", { maxTokens: 100_000 });

    const err = rpcErrorOf(() => planRoute(catalog, params, options));

    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err.reason).toBe("no_model_fits");
  });

  it("counts tool blocks as needing the tools capability", () => {
    const noTools = parseCatalog(
      `version: 1
models:
  - name: plain
    tier: balanced
    context_window: 1000
    max_output_tokens: 50
    capabilities: { tools: false }
    expected_latency_ms: 1
    prices: { input: "1", output: "1", cache_write: "1", cache_read: "1" }
    deployments: [{ name: sim, provider: simulator }]
`,
      "inline",
    );
    const params = chatParams("x", {
      maxTokens: 10,
      messages: [
        {
          role: Role.USER,
          content: [{ block: { case: "toolResult", value: { toolUseId: "t1", content: [] } } }],
        },
      ],
    });

    const err = rpcErrorOf(() => planRoute(noTools, params, options));

    expect(err.message).toBe(
      "no model can take this request (plain: does not support tools); shorten the prompt or " +
        "lower max_tokens",
    );
  });
});
