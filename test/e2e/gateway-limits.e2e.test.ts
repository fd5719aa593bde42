import { randomBytes } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AdminService, Scope } from "@mesh/contracts/gateway/v1/admin_pb";
import { GatewayService } from "@mesh/contracts/gateway/v1/gateway_pb";
import { createGrpcClient, GrpcStatus, RpcError, type GrpcClient } from "@mesh/rpc";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExtraGateway, type ExtraGateway } from "../support/extra-gateway.js";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import {
  assertRealServicesUp,
  createTestSchema,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestSchema,
} from "../support/real-services.js";

const RUN = randomBytes(4).toString("hex");
const ADMIN_KEY = `gw-limits-admin-${RUN}`;
const ANSWER = "The answer from the fake upstream.";
const USAGE = { input_tokens: 300, output_tokens: 200 };
// Every prompt of this file carries the marker, so the log scan can look for it.
const MARKER = `LIMITS-PROMPT-${RUN}`;

let fake: FakeAnthropic;
let schema: TestSchema;
let mesh: RunningMesh;
let second: ExtraGateway;
let gateways: { url: string; grpcAddress: string }[];
let admin: Client<typeof AdminService>;
const secrets: string[] = [];

const sharedEnv = () => ({
  DATABASE_URL: TEST_DATABASE_URL,
  DATABASE_SCHEMA: schema.name,
  REDIS_URL: TEST_REDIS_URL,
  GATEWAY_ADMIN_KEY: ADMIN_KEY,
  GATEWAY_API_KEYS: `static-${RUN}=static-${RUN}`,
  ANTHROPIC_API_KEY: "upstream-secret-key",
  ANTHROPIC_BASE_URL: fake.url,
  ORCHESTRATOR_MAX_RETRIES: "0",
});

beforeAll(async () => {
  await assertRealServicesUp();
  fake = await startFakeAnthropic({
    apiKey: "upstream-secret-key",
    defaultReply: { text: ANSWER, usage: USAGE, deltaChars: 6 },
  });
  schema = await createTestSchema("gwlim");
  mesh = await launchMesh({ env: sharedEnv() });
  second = await startExtraGateway(mesh, sharedEnv());
  gateways = [
    { url: mesh.gatewayUrl, grpcAddress: mesh.gatewayGrpcAddress },
    { url: second.url, grpcAddress: second.grpcAddress },
  ];
  admin = createClient(
    AdminService,
    createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1" }),
  );
});

afterAll(async () => {
  await second?.stop();
  await mesh?.stop();
  await schema?.drop();
  await fake?.close();
});

const asAdmin = { headers: { "x-api-key": ADMIN_KEY } };

/** Sets a tenant's policy and creates one inference key for it; returns the secret. */
async function tenantKey(
  tenant: string,
  policy: Record<string, unknown> = {},
  key: Record<string, unknown> = {},
): Promise<string> {
  await admin.setTenantPolicy({ policy: { tenant, ...policy } }, asAdmin);
  const created = await admin.createApiKey(
    { tenant, name: "e2e", scopes: [Scope.INFERENCE], ...key },
    asAdmin,
  );
  secrets.push(created.secret);
  return created.secret;
}

function prompt(text: string): string {
  return `${text} ${MARKER}`;
}

const anthropicFor = (url: string, apiKey: string) =>
  new Anthropic({ apiKey, baseURL: url, maxRetries: 0 });
const openaiFor = (url: string, apiKey: string) =>
  new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 });

describe("the admin API", () => {
  it("creates keys shown once, lists them on any replica, and needs the admin scope", async () => {
    const tenant = `adm-${RUN}`;
    const created = await admin.createApiKey(
      { tenant, name: "ci", scopes: [Scope.INFERENCE, Scope.METRICS_READ] },
      asAdmin,
    );
    secrets.push(created.secret);
    const grpcAdmin = createGrpcClient(AdminService, second.grpcAddress);
    const listed = await grpcAdmin.listApiKeys({ tenant }, { headers: { "x-api-key": ADMIN_KEY } });
    const denied = await grpcAdmin
      .listApiKeys({}, { headers: { "x-api-key": created.secret } })
      .catch((e: RpcError) => e);
    const adminChats = await openaiFor(mesh.gatewayUrl, ADMIN_KEY)
      .chat.completions.create({
        model: "claude-sonnet-4",
        messages: [{ role: "user", content: "x" }],
      })
      .catch((e: unknown) => e);
    grpcAdmin.close();

    expect(created.secret).toMatch(/^msk_[A-Za-z0-9_-]{43}$/);
    expect(created.key).toMatchObject({
      tenant,
      name: "ci",
      scopes: [Scope.INFERENCE, Scope.METRICS_READ],
    });
    expect(listed.keys.map((k) => k.keyId)).toEqual([created.key?.keyId]);
    expect(listed.keys[0]?.secretPrefix).toBe(created.secret.slice(0, 10));
    const text = JSON.stringify(listed, (_k, v: unknown) =>
      typeof v === "bigint" ? String(v) : v);
    expect(text).not.toContain(created.secret.slice(10));
    expect(denied).toBeInstanceOf(RpcError);
    expect((denied as RpcError).code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(adminChats).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it("limits a key to its allowed models", async () => {
    const key = await tenantKey(`models-${RUN}`, {}, { allowedModels: ["claude-haiku-3"] });
    const client = openaiFor(second.url, key);

    const refused = await client.chat.completions
      .create({ model: "claude-sonnet-4", messages: [{ role: "user", content: prompt("m") }] })
      .catch((e: unknown) => e);
    const served = await client.chat.completions.create({
      model: "claude-haiku-3",
      messages: [{ role: "user", content: prompt("m") }],
    });
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);

    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((refused as Error).message).toContain("claude-sonnet-4 is not allowed");
    expect(served.model).toBe("claude-haiku-3");
    expect(ids).toEqual(["claude-haiku-3"]);
  });
});

describe("requests per minute over two gateways", () => {
  it("lets exactly 10 of 30 through and refuses 20 with each API's limit headers", async () => {
    const key = await tenantKey(`rpm-${RUN}`, { keyRequestsPerMinute: 10 });
    const grpcClients = gateways.map((g) => createGrpcClient(GatewayService, g.grpcAddress));
    const text = { block: { case: "text" as const, value: { text: prompt("rpm") } } };
    const params = {
      model: "claude-sonnet-4",
      maxTokens: 16,
      temperature: 0.5,
      messages: [{ role: 1, content: [text] }],
    };
    const body = JSON.stringify({
      model: "claude-sonnet-4",
      max_tokens: 16,
      temperature: 0.5,
      messages: [{ role: "user", content: prompt("rpm") }],
    });
    const http = (i: number, path: string) =>
      fetch(`${gateways[i % 2]?.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key },
        body,
      }).then(async (res) => ({ api: path, res, json: (await res.json()) as Record<string, any> }));

    type Outcome = { api: string; ok: boolean; detail: unknown };
    const send = (i: number): Promise<Outcome> => {
      const kind = i % 4;
      if (kind === 0 || kind === 1) {
        const [api, path] = kind === 0
          ? ["openai", "/v1/chat/completions"]
          : ["anthropic", "/v1/messages"];
        return http(i, path).then((r) => ({ api, ok: r.res.ok, detail: r }));
      } else if (kind === 2) {
        const client = grpcClients[i % 2] as GrpcClient<typeof GatewayService>;
        return client.chat({ params }, { headers: { "x-api-key": key } }).then(
          (r) => ({ api: "grpc", ok: true, detail: r }),
          (e: unknown) => ({ api: "grpc", ok: false, detail: e }),
        );
      } else {
        const client = createClient(
          GatewayService,
          createConnectTransport({ baseUrl: gateways[i % 2]?.url ?? "", httpVersion: "1.1" }),
        );
        return client.chat({ params }, { headers: { "x-api-key": key } }).then(
          (r) => ({ api: "connect", ok: true, detail: r }),
          (e: unknown) => ({ api: "connect", ok: false, detail: e }),
        );
      }
    };
    const calls = Array.from({ length: 30 }, (_, i) => send(i));
    const outcomes = await Promise.all(calls);
    // Which APIs the burst refuses depends on arrival order; one more call per API after it
    // (the minute's 10 are spent) makes sure every API's refusal is checked.
    const after: Outcome[] = [];
    for (let i = 0; i < 4; i++) after.push(await send(i));
    for (const client of grpcClients) client.close();

    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    expect(outcomes.filter((o) => !o.ok)).toHaveLength(20);
    expect(after.filter((o) => o.ok)).toHaveLength(0);
    const refused = [...outcomes, ...after].filter((o) => !o.ok);
    expect(new Set(refused.map((o) => o.api)))
      .toEqual(new Set(["openai", "anthropic", "grpc", "connect"]));

    for (const { api, detail } of refused) {
      if (api === "openai") {
        const { res, json } = detail as { res: Response; json: Record<string, any> };
        expect(res.status).toBe(429);
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(res.headers.get("x-ratelimit-limit-requests")).toBe("10");
        expect(res.headers.get("x-ratelimit-remaining-requests")).toBe("0");
        expect(res.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+ms|(\d+m)?\d+s)$/);
        expect(json.error).toMatchObject({
          type: "requests",
          code: "rate_limit_exceeded",
          source: "gateway",
          param: null,
        });
      } else if (api === "anthropic") {
        const { res, json } = detail as { res: Response; json: Record<string, any> };
        expect(res.status).toBe(429);
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(res.headers.get("anthropic-ratelimit-requests-limit")).toBe("10");
        expect(res.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0");
        const reset = Date.parse(res.headers.get("anthropic-ratelimit-requests-reset") ?? "");
        expect(reset).toBeGreaterThan(Date.now() - 1_000);
        expect(reset).toBeLessThanOrEqual(Date.now() + 61_000);
        expect(json).toMatchObject({
          type: "error",
          error: { type: "rate_limit_error", reason: "rate_limited", source: "gateway" },
        });
      } else if (api === "grpc") {
        const err = detail as RpcError;
        expect(err).toBeInstanceOf(RpcError);
        expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
        expect(err.reason).toBe("rate_limited");
        expect(err.retryAfterMs).toBeGreaterThan(0);
        expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);
        expect(err.trailers["x-ratelimit-limit-requests"]).toBe("10");
        expect(err.trailers["x-ratelimit-remaining-requests"]).toBe("0");
        // google.rpc.Status with RetryInfo and ErrorInfo details, as grpc clients expect.
        const status = Buffer.from(err.trailers["grpc-status-details-bin"] ?? "", "base64");
        expect(status.toString("latin1")).toContain("type.googleapis.com/google.rpc.RetryInfo");
        expect(status.toString("latin1")).toContain("type.googleapis.com/google.rpc.ErrorInfo");
      } else {
        const err = ConnectError.from(detail);
        expect(err.code).toBe(Code.ResourceExhausted);
        expect(err.metadata.get("x-ratelimit-limit-requests")).toBe("10");
        expect(err.metadata.get("x-ratelimit-remaining-requests")).toBe("0");
        expect(Number(err.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(err.details.map((d) => ("type" in d ? d.type : d.desc.typeName))).toEqual([
          "google.rpc.ErrorInfo",
          "google.rpc.RetryInfo",
        ]);
      }
    }

    const served = outcomes.find((o) => o.ok && o.api === "openai");
    if (served) {
      const { res } = served.detail as { res: Response };
      expect(res.headers.get("x-ratelimit-limit-requests")).toBe("10");
      expect(Number(res.headers.get("x-ratelimit-remaining-requests"))).toBeLessThan(10);
    }
  });
});

describe("tokens per minute", () => {
  it("reserves before and counts input and output after streamed Anthropic requests", async () => {
    const key = await tenantKey(`tpm-${RUN}`, { keyTokensPerMinute: 1_000 });
    const text = prompt("count my tokens");
    // The gateway's estimate: about 4 characters per token, 4 per message, plus max_tokens.
    const reserved = Math.ceil(text.length / 4) + 4 + 100;
    const stream = async (url: string) => {
      const s = anthropicFor(url, key).messages.stream({
        model: "claude-sonnet-4",
        max_tokens: 100,
        messages: [{ role: "user", content: text }],
      });
      const final = await s.finalMessage();
      return { final, headers: (await s.withResponse()).response.headers };
    };
    const upstreamBefore = fake.requests.length;

    const first = await stream(gateways[0]?.url ?? "");
    const secondStream = await stream(gateways[1]?.url ?? "");
    const third = await stream(gateways[0]?.url ?? "").catch((e: unknown) => e);

    expect(first.final.usage).toMatchObject({ input_tokens: 300, output_tokens: 200 });
    expect(first.headers.get("anthropic-ratelimit-tokens-limit")).toBe("1000");
    expect(first.headers.get("anthropic-ratelimit-tokens-remaining"))
      .toBe(String(1_000 - reserved));
    // The first request's 500 tokens (300 in, 200 out) replaced its reservation.
    expect(secondStream.headers.get("anthropic-ratelimit-tokens-remaining")).toBe(
      String(1_000 - 500 - reserved),
    );
    expect(third).toBeInstanceOf(Anthropic.RateLimitError);
    const refusal = third as InstanceType<typeof Anthropic.RateLimitError>;
    expect(refusal.headers?.get("anthropic-ratelimit-tokens-limit")).toBe("1000");
    expect(refusal.headers?.get("anthropic-ratelimit-tokens-remaining")).toBe("0");
    expect(Number(refusal.headers?.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refusal.error).toMatchObject({
      type: "error",
      error: { type: "rate_limit_error", source: "gateway" },
    });
    expect((refusal.error as { error: { message: string } }).error.message).toContain(
      "1000 tokens per minute",
    );
    expect(fake.requests.length - upstreamBefore).toBe(2);
  });
});

describe("the response cache across tenants", () => {
  it("never serves tenant B the answer tenant A got for the identical request", async () => {
    const keyA = await tenantKey(`cache-a-${RUN}`);
    const keyB = await tenantKey(`cache-b-${RUN}`);
    const request = {
      model: "claude-sonnet-4",
      max_tokens: 64,
      temperature: 0,
      messages: [{ role: "user" as const, content: prompt("identical request") }],
    } as Anthropic.MessageCreateParamsNonStreaming;
    fake.script(
      { kind: "reply", text: "answer for A", usage: USAGE },
      { kind: "reply", text: "answer for B", usage: USAGE },
    );
    const ask = async (url: string, key: string) => {
      const { data, response } = await anthropicFor(url, key).messages
        .create(request)
        .withResponse();
      return [(data.content[0] as { text: string }).text, response.headers.get("x-mesh-cache")];
    };

    const a1 = await ask(gateways[0]?.url ?? "", keyA);
    const b1 = await ask(gateways[1]?.url ?? "", keyB);
    const a2 = await ask(gateways[1]?.url ?? "", keyA);
    const b2 = await ask(gateways[0]?.url ?? "", keyB);

    expect(a1).toEqual(["answer for A", "miss"]);
    expect(b1).toEqual(["answer for B", "miss"]);
    expect(a2).toEqual(["answer for A", "hit"]);
    expect(b2).toEqual(["answer for B", "hit"]);
  });

  it("bypasses the cache for a tenant whose policy turns it off", async () => {
    const key = await tenantKey(`nocache-${RUN}`, { cacheEnabled: false });
    const request = {
      model: "claude-sonnet-4",
      max_tokens: 64,
      temperature: 0,
      messages: [{ role: "user" as const, content: prompt("no cache for me") }],
    } as Anthropic.MessageCreateParamsNonStreaming;
    const before = fake.requests.length;

    await anthropicFor(mesh.gatewayUrl, key).messages.create(request);
    const { response } = await anthropicFor(mesh.gatewayUrl, key).messages
      .create(request)
      .withResponse();

    expect(response.headers.get("x-mesh-cache")).toBe("bypass");
    expect(fake.requests.length - before).toBe(2);
  });
});

describe("key revocation and expiry", () => {
  it("refuses a revoked key on both gateways within 5 seconds", async () => {
    const key = await tenantKey(`revoke-${RUN}`);
    const listed = await admin.listApiKeys({ tenant: `revoke-${RUN}` }, asAdmin);
    const keyId = listed.keys[0]?.keyId ?? "";
    const ask = (url: string) =>
      fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    // Both gateways have the key cached as valid before it is revoked.
    for (const g of gateways) expect((await ask(g.url)).status).toBe(200);

    const grpcAdmin = createGrpcClient(AdminService, second.grpcAddress);
    await grpcAdmin.revokeApiKey({ keyId }, { headers: { "x-api-key": ADMIN_KEY } });
    grpcAdmin.close();
    const revokedAt = Date.now();
    const refusedAfter = await Promise.all(
      gateways.map(async (g) => {
        for (;;) {
          const res = await ask(g.url);
          if (res.status === 401) return { ms: Date.now() - revokedAt, body: await res.json() };
          if (Date.now() - revokedAt > 10_000) return { ms: Infinity, body: undefined };
          await new Promise((r) => setTimeout(r, 50));
        }
      }),
    );

    for (const { ms, body } of refusedAfter) {
      expect(ms).toBeLessThan(5_000);
      expect(body).toMatchObject({ error: { code: "invalid_api_key" } });
      expect((body as { error: { message: string } }).error.message).toContain("revoked");
    }
  });

  it("refuses a key after its expiry time", async () => {
    const expiresAt = timestampFromMs(Date.now() + 2_500);
    const key = await tenantKey(`expiry-${RUN}`, {}, { expiresAt });
    const ask = () => fetch(`${second.url}/v1/models`, { headers: { "x-api-key": key } });

    const before = await ask();
    await new Promise((r) => setTimeout(r, 3_000));
    const after = await ask();

    expect(before.status).toBe(200);
    expect(after.status).toBe(401);
    const body = (await after.json()) as { error: { message: string } };
    expect(body.error.message).toContain("expired");
  });
});

describe("logs of every service and both gateways", () => {
  it("contain no key, authorization header, prompt or answer text", () => {
    const lines = [...Object.values(mesh.logs).flat(), ...second.logs];
    const forbidden = [
      ADMIN_KEY,
      `static-${RUN}=`,
      "upstream-secret-key",
      "Bearer ",
      MARKER,
      ANSWER,
      "answer for A",
      ...secrets,
    ];

    expect(secrets.length).toBeGreaterThan(8);
    const logged = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    expect(logged.filter((l) => l.msg === "request finished").length).toBeGreaterThan(15);
    // 20 refusals in the burst and one per API after it.
    expect(logged.filter((l) => l.msg === "request refused" && l.reason === "rate_limited"))
      .toHaveLength(24);
    for (const text of forbidden) {
      expect(lines.filter((line) => line.includes(text)), text).toEqual([]);
    }
    expect(lines.filter((line) => /authorization"\s*:/i.test(line))).toEqual([]);
  });
});
