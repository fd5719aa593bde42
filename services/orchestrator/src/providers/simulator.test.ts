import { StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { describe, expect, it } from "vitest";
import { loadCatalogFile, type CatalogDeployment } from "../catalog.js";
import { DEFAULT_CATALOG_PATH } from "../config.js";
import { textTokens } from "../params.js";
import { chatParams } from "../testkit.js";
import { createSimulatorProvider, simulate, type SimulatorSettings } from "./simulator.js";
import { ProviderError, type ProviderEvent } from "./types.js";

const catalog = loadCatalogFile(DEFAULT_CATALOG_PATH, { env: {} });
const sonnet = catalog.find("claude-sonnet-4")?.active[0] as CatalogDeployment;
const haiku = catalog.find("claude-haiku-3")?.active[0] as CatalogDeployment;
const settings: SimulatorSettings = {
  latencyMs: 0,
  failModels: [],
  failureRate: 0,
  failureStatus: 529,
  seed: 1,
};

function request(text: string, extra: Parameters<typeof chatParams>[1] = {}, maxTokens = 1024) {
  return { params: chatParams(text, extra), upstreamModel: "sim", maxTokens,
    model: "claude-sonnet-4" };
}

function textOf(result: ReturnType<typeof simulate>): string {
  const block = result.content[0]?.block;
  return block?.case === "text" ? block.value.text : "";
}

describe("simulator", () => {
  it("answers the same prompt with the same text and usage every time", () => {
    const a = simulate(request("What is a service mesh?"));
    const b = simulate(request("What is a service mesh?"));
    const c = simulate(request("What is a service mesh!"));

    expect(textOf(a)).toBe(textOf(b));
    expect(a.usage).toEqual(b.usage);
    expect(textOf(c)).not.toBe(textOf(a));
    expect(textOf(a)).toMatch(/^\[simulator\] claude-sonnet-4 reply [0-9a-f]{8}: [a-z ]+\.$/);
  });

  it("counts tokens by the mesh rule: 1 per 4 UTF-8 bytes, rounded up", () => {
    const result = simulate(request("12345678901"));

    expect(result.usage).toEqual({
      inputTokens: 3,
      outputTokens: textTokens(textOf(result)),
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
    expect(result.stopReason).toBe(StopReason.END_TURN);
  });

  it("stops at max_tokens and at stop sequences", () => {
    const capped = simulate(request("limit me", {}, 8));
    const full = textOf(simulate(request("limit me")));
    const sequence = full.split(" ")[3] ?? "";
    const stopped = simulate(request("limit me", { stopSequences: [sequence] }));

    expect(capped.stopReason).toBe(StopReason.MAX_TOKENS);
    expect(capped.usage.outputTokens).toBeLessThanOrEqual(8);
    expect(stopped.stopReason).toBe(StopReason.STOP_SEQUENCE);
    expect(stopped.stopSequence).toBe(sequence);
    expect(textOf(stopped)).toBe(full.slice(0, full.indexOf(sequence)));
  });

  it("calls a tool when tools are given, with stop reason TOOL_USE", () => {
    const result = simulate(
      request("weather?", { tools: [{ name: "weather", inputSchemaJson: '{"type":"object"}' }] }),
    );

    expect(result.stopReason).toBe(StopReason.TOOL_USE);
    expect(result.content[0]?.block).toMatchObject({
      case: "toolUse",
      value: { name: "weather", inputJson: "{}" },
    });
  });

  it("streams several text deltas that add up to the unary text, then the same usage", async () => {
    const provider = createSimulatorProvider(sonnet, settings);
    const unary = await provider.complete(request("stream this"));
    const events: ProviderEvent[] = [];

    for await (const event of provider.stream(request("stream this"))) events.push(event);

    const deltas = events.filter((e) => e.type === "text_delta");
    expect(events[0]?.type).toBe("start");
    expect(deltas.length).toBeGreaterThanOrEqual(3);
    expect(deltas.map((e) => (e.type === "text_delta" ? e.text : "")).join("")).toBe(
      textOf(unary),
    );
    expect(events.at(-1)).toEqual({
      type: "stop",
      stopReason: StopReason.END_TURN,
      stopSequence: "",
      usage: unary.usage,
    });
  });

  it("fails the models named in failModels with a 529 overloaded error", async () => {
    const failing = { ...settings, failModels: ["claude-sonnet-4"] };

    const err = await createSimulatorProvider(sonnet, failing)
      .complete(request("x"))
      .catch((e: unknown) => e);
    const ok = await createSimulatorProvider(haiku, failing).complete(request("x"));

    expect(err).toBeInstanceOf(ProviderError);
    const failure = err as ProviderError;
    expect([failure.kind, failure.status]).toEqual(["overloaded", 529]);
    expect(ok.stopReason).toBe(StopReason.END_TURN);
  });

  it("fails a seeded share of calls, the same ones on every run", async () => {
    const run = async () => {
      const provider = createSimulatorProvider(sonnet, { ...settings, failureRate: 0.3, seed: 7 });
      const outcomes: string[] = [];
      for (let i = 0; i < 20; i++) {
        outcomes.push(await provider.complete(request("x")).then(() => "ok", () => "fail"));
      }
      return outcomes;
    };

    const first = await run();

    expect(await run()).toEqual(first);
    expect(first.filter((o) => o === "fail").length).toBeGreaterThan(0);
    expect(first.filter((o) => o === "ok").length).toBeGreaterThan(0);
  });

  it("waits the configured latency", async () => {
    const provider = createSimulatorProvider(sonnet, { ...settings, latencyMs: 50 });
    const started = performance.now();

    await provider.complete(request("x"));

    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});
