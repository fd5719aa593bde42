import type { MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { context } from "@opentelemetry/api";
import { ChatEventSchema, StopReason } from "@mesh/contracts/common/v1/chat_pb";
import {
  CostLedgerService,
  type ReserveBudgetRequest,
  type ReserveBudgetResponseSchema,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import { OrchestratorService } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import { moneyToNanos } from "@mesh/money";
import {
  createGrpcClient,
  GrpcStatus,
  RpcError,
  startGrpcServer,
  type CallContext,
  type GrpcServerHandle,
} from "@mesh/rpc";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLedgerBudget, type BudgetFailureMode, type BudgetGuard } from "./budget.js";
import { parseCatalog, type Catalog } from "./catalog.js";
import { loadOrchestratorConfig } from "./config.js";
import { Dispatcher } from "./dispatch.js";
import { createProviders } from "./providers/registry.js";
import { Resilience } from "./resilience.js";
import { planRoute } from "./routing.js";
import { startOrchestratorService } from "./server.js";
import { chatParams, fakeCatalogYaml, recordingClock, silentLogger } from "./testkit.js";

type ReserveAnswer =
  | MessageInitShape<typeof ReserveBudgetResponseSchema>
  | RpcError
  | { stallMs: number };

/**
 * A tiny cost ledger: answers ReserveBudget from a script and records every call. It answers
 * WatchBudgetedTenants UNIMPLEMENTED (as a ledger before the watch) until `budgeted` names
 * the tenants with budgets.
 */
async function startLedger(port = 0) {
  const reserves: ReserveBudgetRequest[] = [];
  const releases: string[] = [];
  const answers: ReserveAnswer[] = [];
  const unimplemented = new RpcError(GrpcStatus.UNIMPLEMENTED, "no watch in this ledger");
  let watchAnswer: string[] | RpcError = unimplemented;
  let version = 0n;
  const cuts = new Set<(err: RpcError) => void>();
  const server: GrpcServerHandle = await startGrpcServer({
    host: "127.0.0.1",
    port,
    logger: silentLogger,
    tracerName: "ledger-test",
    services: [{ service: CostLedgerService, impl: {
      // The ledger's contract grows while its service is built; methods this test does not
      // use answer UNIMPLEMENTED.
      ...Object.fromEntries(CostLedgerService.methods.map((m) => [m.localName, async () => {
        throw new RpcError(GrpcStatus.UNIMPLEMENTED, `${m.name} is not in this test ledger`);
      }])),
      reserveBudget: async (req: ReserveBudgetRequest) => {
        reserves.push(req);
        let answer = answers.shift();
        if (answer && "stallMs" in answer) {
          await new Promise((r) => setTimeout(r, (answer as { stallMs: number }).stallMs));
          answer = undefined;
        }
        answer ??= { reservationId: `res-${reserves.length}`, usedFraction: 0.1 };
        if (answer instanceof RpcError) throw answer;
        return answer;
      },
      releaseBudget: async (req: { reservationId: string }) => {
        releases.push(req.reservationId);
        return {};
      },
      watchBudgetedTenants: async function* (_req: unknown, call: CallContext) {
        if (watchAnswer instanceof RpcError) throw watchAnswer;
        yield { tenants: watchAnswer, version: ++version };
        // Open until the caller leaves or the test cuts it.
        const err = await new Promise<RpcError | undefined>((resolve) => {
          cuts.add(resolve);
          call.signal.addEventListener("abort", () => resolve(undefined));
        });
        if (err) throw err;
      },
    } }],
  });
  const cutWatches = () => {
    for (const cut of cuts) cut(new RpcError(GrpcStatus.UNAVAILABLE, "ledger going away"));
    cuts.clear();
  };
  return {
    address: `127.0.0.1:${server.port}`,
    reserves,
    releases,
    answer: (...next: ReserveAnswer[]) => answers.push(...next),
    /** Serves the watch with these tenants, or refuses it with this error. */
    serveWatch: (answer: string[] | RpcError) => {
      watchAnswer = answer;
    },
    /** Ends every open watch stream UNAVAILABLE. */
    cutWatches,
    reset: () => {
      reserves.length = 0;
      releases.length = 0;
      answers.length = 0;
      watchAnswer = unimplemented;
      cutWatches();
    },
    stop: () => server.shutdown(0),
  };
}

let fake: FakeAnthropic;
let ledger: Awaited<ReturnType<typeof startLedger>>;
let catalog: Catalog;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  ledger = await startLedger();
  catalog = parseCatalog(fakeCatalogYaml(fake.url), "fake", { env: { FAKE_ANTHROPIC_KEY: "k" } });
});

afterAll(async () => {
  await fake.close();
  await ledger.stop();
});

beforeEach(() => {
  fake.requests.length = 0;
  ledger.reset();
});

afterEach(() => {
  expect(fake.pending()).toBe(0);
});

function setup(options: { address?: string; failureMode?: BudgetFailureMode;
  downtierAt?: number; timeoutMs?: number } = {}) {
  const budget = createLedgerBudget({
    address: options.address ?? ledger.address,
    timeoutMs: options.timeoutMs ?? 2_000,
    failureMode: options.failureMode ?? "closed",
    logger: silentLogger,
    watchRetryMs: { initial: 20, max: 100 },
  });
  const providers = createProviders(catalog, {
    timeoutMs: 5_000,
    connectTimeoutMs: 5_000,
    logger: silentLogger,
    simulator: { latencyMs: 0, failModels: [], failureRate: 0, failureStatus: 529, seed: 1 },
  });
  const resilience = new Resilience({ maxRetries: 0, initialDelayMs: 1, maxDelayMs: 1,
    maxRetryAfterMs: 1_000, breakerFailures: 100, breakerCooldownMs: 1_000 }, recordingClock());
  const checks: string[] = [];
  const dispatcher = new Dispatcher(providers, resilience, silentLogger, {
    budget,
    downtierAt: options.downtierAt ?? 0.9,
    metrics: { attempt: () => undefined, streamError: () => undefined,
      budget: (result) => checks.push(result), downtier: () => undefined },
  });
  return { dispatcher, budget, checks };
}

/** Probes until the guard answers for `tenant` without the ledger: its directory arrived. */
async function untilSkipped(budget: BudgetGuard, tenant: string) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const r = await budget.reserve({ requestId: "probe", tenant, apiKeyId: "", model: "m",
      amountNanos: 1n, tokens: 1, replaces: "" });
    if (r.skipped) return;
    if (Date.now() > deadline) throw new Error("the budget directory never arrived");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Probes until the guard asks the ledger about `tenant` again: its directory is gone. */
async function untilAsked(budget: BudgetGuard, tenant: string) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const r = await budget.reserve({ requestId: "probe", tenant, apiKeyId: "", model: "m",
      amountNanos: 1n, tokens: 1, replaces: "" });
    if (!r.skipped) return;
    if (Date.now() > deadline) throw new Error("the budget directory never went away");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** "hello" is 2 prompt tokens by the mesh's rule; max_tokens resolves to 256. */
function request(extra: Parameters<typeof chatParams>[1] = {}) {
  const params = chatParams("hello", { tenant: "acme", apiKeyId: "key-1", ...extra });
  const plan = planRoute(catalog, params, { defaultMaxTokens: 256, fallbackExplicit: true });
  return { requestId: "req-b", params, plan, parent: context.active() };
}

async function rpcErrorOf(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error("expected an RpcError");
}

function reserved() {
  return ledger.reserves.map((r) => [r.model, moneyToNanos(r.amount), r.tokens,
    r.replacesReservationId]);
}

describe("budget-aware dispatch", () => {
  it("reserves the worst case at the model's prices and returns the reservation id", async () => {
    const { dispatcher, budget } = setup();
    fake.script({ kind: "reply", text: "hi" });

    const { reservationId } = await dispatcher.complete(request());
    budget.close();

    // (2 × $3 + 256 × $15) per million = $0.003846.
    expect(reserved()).toEqual([["claude-sonnet-4", 3_846_000n, 258n, ""]]);
    expect(ledger.reserves[0]).toMatchObject({ requestId: "req-b", tenant: "acme",
      apiKeyId: "key-1" });
    expect(reservationId).toBe("res-1");
    expect(ledger.releases).toEqual([]);
  });

  it("fails budget_exceeded without calling any model", async () => {
    const { dispatcher, budget } = setup();
    ledger.answer(new RpcError(GrpcStatus.RESOURCE_EXHAUSTED,
      "tenant acme has used its monthly budget of $50.00", "budget_exceeded"));

    const err = await rpcErrorOf(dispatcher.complete(request()));
    budget.close();

    expect([err.code, err.reason, err.message]).toEqual([GrpcStatus.RESOURCE_EXHAUSTED,
      "budget_exceeded", "tenant acme has used its monthly budget of $50.00"]);
    expect(fake.requests).toHaveLength(0);
  });

  it("re-checks the budget at the fallback model's prices, replacing the reservation",
    async () => {
      const { dispatcher, budget } = setup();
      fake.script({ kind: "error", status: 529 }, { kind: "reply", text: "from haiku" });

      const { reservationId, served } = await dispatcher.complete(request());
      budget.close();

      expect(served.model.name).toBe("claude-haiku-3");
      // Haiku: (2 × $0.25 + 256 × $1.25) per million = $0.0003205.
      expect(reserved()).toEqual([
        ["claude-sonnet-4", 3_846_000n, 258n, ""],
        ["claude-haiku-3", 320_500n, 258n, "res-1"],
      ]);
      expect(reservationId).toBe("res-2");
    });

  it("fails budget_exceeded when the fallback model's price is over budget, releasing the " +
    "first reservation", async () => {
    const { dispatcher, budget } = setup();
    fake.script({ kind: "error", status: 529 });
    ledger.answer({ reservationId: "res-a", usedFraction: 0.5 },
      new RpcError(GrpcStatus.RESOURCE_EXHAUSTED, "over budget", "budget_exceeded"));

    const err = await rpcErrorOf(dispatcher.complete(request()));
    budget.close();

    expect([err.code, err.reason]).toEqual([GrpcStatus.RESOURCE_EXHAUSTED, "budget_exceeded"]);
    expect(fake.requests).toHaveLength(1);
    expect(ledger.releases).toEqual(["res-a"]);
  });

  it("moves to a cheaper tier when 90% of a budget is used, and says so", async () => {
    const { dispatcher, budget } = setup();
    ledger.answer({ reservationId: "res-a", usedFraction: 0.95 },
      { reservationId: "res-b", usedFraction: 0.93 });
    fake.script({ kind: "reply", text: "cheap" });

    const { served, routing, reservationId } = await dispatcher.complete(request());
    budget.close();

    expect(served.model.name).toBe("claude-haiku-3");
    expect(routing.reason).toBe("no routing hint → balanced tier; budget 95% used (the policy " +
      "moves to a cheaper tier from 90%) → fast tier");
    expect(reserved()).toEqual([
      ["claude-sonnet-4", 3_846_000n, 258n, ""],
      ["claude-haiku-3", 320_500n, 258n, "res-a"],
    ]);
    expect(reservationId).toBe("res-b");
    expect(fake.requests.map((r) => r.body.model)).toEqual(["claude-haiku-3-upstream"]);
  });

  it("keeps a model the caller named, and does not move tiers when the policy is off",
    async () => {
      const named = setup();
      const off = setup({ downtierAt: 0 });
      ledger.answer({ reservationId: "r1", usedFraction: 0.99 },
        { reservationId: "r2", usedFraction: 0.99 });
      fake.script({ kind: "reply" }, { kind: "reply" });

      const first = await named.dispatcher.complete(request({ model: "claude-opus-4" }));
      const second = await off.dispatcher.complete(request());
      named.budget.close();
      off.budget.close();

      expect([first.served.model.name, second.served.model.name]).toEqual([
        "claude-opus-4", "claude-sonnet-4"]);
      expect(ledger.reserves).toHaveLength(2);
    });

  it("treats an empty reservation id as no budget, and skips requests with no tenant",
    async () => {
      const { dispatcher, budget } = setup();
      ledger.answer({ reservationId: "", usedFraction: 0 });
      fake.script({ kind: "error", status: 400, message: "bad" }, { kind: "reply" });

      await rpcErrorOf(dispatcher.complete(request()));
      const anonymous = await dispatcher.complete(request({ tenant: "", apiKeyId: "" }));
      budget.close();

      expect(ledger.reserves).toHaveLength(1);
      expect(ledger.releases).toEqual([]);
      expect(anonymous.reservationId).toBe("");
    });

  it("releases the reservation when every model fails", async () => {
    const { dispatcher, budget } = setup();
    fake.script(...Array.from({ length: 3 }, () => ({ kind: "error", status: 500 }) as const));

    const err = await rpcErrorOf(dispatcher.complete(request()));
    budget.close();

    expect(err.reason).toBe("provider_error");
    expect(reserved().map((r) => [r[0], r[3]])).toEqual([["claude-sonnet-4", ""],
      ["claude-haiku-3", "res-1"], ["claude-opus-4", "res-2"]]);
    expect(ledger.releases).toEqual(["res-3"]);
  });

  it("asks once more when the ledger was slow or away, with the same request id", async () => {
    const { dispatcher, budget } = setup({ timeoutMs: 200 });
    ledger.answer(
      { stallMs: 400 },
      { reservationId: "res-held", usedFraction: 0.2 },
      new RpcError(GrpcStatus.UNAVAILABLE, "ledger restarting"),
      { reservationId: "res-back", usedFraction: 0.2 },
    );
    fake.script({ kind: "reply", text: "a" }, { kind: "reply", text: "b" });

    // A stall past the deadline, then an answer: served on the reservation of the retry (the
    // ledger answers a repeat of the same request id with the reservation it already holds).
    const first = await dispatcher.complete(request());
    // Away, then an answer.
    const second = await dispatcher.complete({ ...request(), requestId: "req-c" });
    budget.close();

    expect(ledger.reserves.map((r) => r.requestId)).toEqual(["req-b", "req-b", "req-c", "req-c"]);
    expect([first.reservationId, second.reservationId]).toEqual(["res-held", "res-back"]);
    expect(fake.requests).toHaveLength(2);
  });

  it("fails closed when the ledger cannot be reached, open when the policy says so",
    async () => {
      const closed = setup({ address: "127.0.0.1:1" });
      const open = setup({ address: "127.0.0.1:1", failureMode: "open" });
      fake.script({ kind: "reply", text: "served anyway" });

      const err = await rpcErrorOf(closed.dispatcher.complete(request()));
      const served = await open.dispatcher.complete(request());
      closed.budget.close();
      open.budget.close();

      expect([err.code, err.reason]).toEqual([GrpcStatus.UNAVAILABLE, "budget_unavailable"]);
      expect(served.reservationId).toBe("");
      expect(fake.requests).toHaveLength(1);
    });
});

describe("tenants without a budget, by the ledger's directory", () => {
  it("asks the ledger nothing for a tenant the directory does not list", async () => {
    ledger.serveWatch(["other-tenant"]);
    const { dispatcher, budget, checks } = setup();
    await untilSkipped(budget, "acme");
    ledger.reserves.length = 0;
    fake.script({ kind: "error", status: 529 }, { kind: "reply", text: "from haiku" });

    const { reservationId, served } = await dispatcher.complete(request());
    budget.close();

    // The fallback to haiku has no reservation to swap either.
    expect(served.model.name).toBe("claude-haiku-3");
    expect(ledger.reserves).toEqual([]);
    expect(reservationId).toBe("");
    expect(checks).toEqual(["skipped", "skipped"]);
    expect(ledger.releases).toEqual([]);
  });

  it("still asks to swap a reservation, whatever the directory says", async () => {
    ledger.serveWatch([]);
    const { budget } = setup();
    await untilSkipped(budget, "acme");
    ledger.reserves.length = 0;

    const swapped = await budget.reserve({ requestId: "req-s", tenant: "acme", apiKeyId: "",
      model: "claude-haiku-3", amountNanos: 5n, tokens: 5, replaces: "res-old" });
    budget.close();

    expect(ledger.reserves.map((r) => [r.tenant, r.replacesReservationId])).toEqual([
      ["acme", "res-old"]]);
    expect(swapped).toEqual({ reservationId: "res-1", usedFraction: 0.1 });
  });

  it("reserves for a tenant the directory lists, and refuses it when over budget",
    async () => {
      ledger.serveWatch(["acme"]);
      const { dispatcher, budget, checks } = setup();
      await untilSkipped(budget, "someone-else");
      ledger.reserves.length = 0;
      ledger.answer({ reservationId: "res-a", usedFraction: 0.5 },
        new RpcError(GrpcStatus.RESOURCE_EXHAUSTED, "over budget", "budget_exceeded"));
      fake.script({ kind: "reply", text: "within budget" });

      const first = await dispatcher.complete(request());
      const err = await rpcErrorOf(dispatcher.complete(request()));
      budget.close();

      expect(first.reservationId).toBe("res-a");
      expect([err.code, err.reason]).toEqual([GrpcStatus.RESOURCE_EXHAUSTED,
        "budget_exceeded"]);
      expect(ledger.reserves.map((r) => r.tenant)).toEqual(["acme", "acme"]);
      expect(checks).toEqual(["reserved", "exceeded"]);
      expect(fake.requests).toHaveLength(1);
    });

  it("asks the ledger about every tenant while the stream is down, and skips again once back",
    async () => {
      ledger.serveWatch(["other-tenant"]);
      const { dispatcher, budget, checks } = setup();
      await untilSkipped(budget, "acme");

      ledger.serveWatch(new RpcError(GrpcStatus.UNAVAILABLE, "ledger restarting"));
      ledger.cutWatches();
      await untilAsked(budget, "acme");
      ledger.reserves.length = 0;
      fake.script({ kind: "reply", text: "checked" }, { kind: "reply", text: "skipped" });
      const down = await dispatcher.complete(request());
      const askedWhileDown = ledger.reserves.map((r) => r.tenant);

      ledger.serveWatch(["other-tenant"]);
      await untilSkipped(budget, "acme");
      ledger.reserves.length = 0;
      const back = await dispatcher.complete(request());
      budget.close();

      expect(askedWhileDown).toEqual(["acme"]);
      expect(down.reservationId).toBe("res-1");
      expect(ledger.reserves).toEqual([]);
      expect(back.reservationId).toBe("");
      expect(checks).toEqual(["reserved", "skipped"]);
    });
});

describe("a ledger that comes up after the orchestrator", () => {
  it("is not dialled before the first request, so that request is served", async () => {
    const free = await startLedger();
    const port = Number(free.address.split(":")[1]);
    await free.stop();
    const { dispatcher, budget } = setup({ address: `127.0.0.1:${port}` });
    // Long enough for failed dials to push the channel into its reconnect backoff (1 s on).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const late = await startLedger(port);
    fake.script({ kind: "reply", text: "served" });

    const { reservationId } = await dispatcher.complete(request());
    budget.close();
    await late.stop();

    expect(reservationId).toBe("res-1");
    expect(late.reserves.map((r) => r.tenant)).toEqual(["acme"]);
  });
});

describe("reservation ids over gRPC", () => {
  type ChatEvent = MessageShape<typeof ChatEventSchema>;

  it("puts the reservation on the result, the done event and a failed stream's partial",
    async () => {
      const config = loadOrchestratorConfig({
        ORCHESTRATOR_GRPC_PORT: "0",
        ORCHESTRATOR_HTTP_PORT: "0",
        ORCHESTRATOR_CATALOG_WATCH: "false",
        ORCHESTRATOR_MAX_RETRIES: "0",
        LEDGER_ADDR: ledger.address,
        ANTHROPIC_API_KEY: "k",
        ANTHROPIC_BASE_URL: fake.url,
      });
      const handle = await startOrchestratorService(config, silentLogger,
        async () => undefined, { env: { ANTHROPIC_API_KEY: "k", ANTHROPIC_BASE_URL: fake.url },
          clock: recordingClock(), handleSignals: false });
      const client = createGrpcClient(OrchestratorService, `127.0.0.1:${handle.grpcPort}`);
      fake.script(
        { kind: "reply", text: "unary" },
        { kind: "reply", text: "streamed" },
        { kind: "reply", text: "cut short now", deltaChars: 4,
          usage: { input_tokens: 10, output_tokens: 50 },
          errorAfterEvents: { events: 5, type: "overloaded_error" } },
      );
      const params = chatParams("hello", { tenant: "acme" });
      const stream = async () => {
        const out: ChatEvent[] = [];
        for await (const r of client.streamComplete({ params })) if (r.event) out.push(r.event);
        return out;
      };

      const { result } = await client.complete({ params });
      const done = (await stream()).at(-1)?.event;
      const failed = (await stream()).at(-1)?.event;
      client.close();
      await handle.stop();

      expect(result?.reservationId).toBe("res-1");
      expect(done?.case === "done" && done.value.reservationId).toBe("res-2");
      expect(failed?.case).toBe("error");
      if (failed?.case !== "error") return;
      expect([failed.value.reason, failed.value.code]).toEqual(["overloaded",
        GrpcStatus.RESOURCE_EXHAUSTED]);
      // Input from message_start; no message_delta came, so output is counted from the
      // deltas sent, "cut " and "shor": 8 bytes → 2 tokens. (10 × $3 + 2 × $15) / 1M.
      expect(failed.value.partial).toMatchObject({
        reservationId: "res-3",
        stopReason: StopReason.UNSPECIFIED,
        model: "claude-sonnet-4",
        usage: { inputTokens: 10, outputTokens: 2 },
        cost: { units: 0n, nanos: 60_000 },
      });
      expect(ledger.releases).toEqual([]);
    });
});
