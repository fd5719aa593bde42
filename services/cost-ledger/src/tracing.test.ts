import { startTelemetry, type TelemetryOptions } from "@mesh/telemetry";
import { SpanKind, trace } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

type Processor = NonNullable<TelemetryOptions["spanProcessors"]>[number];
type EndedSpan = Parameters<Processor["onEnd"]>[0];

// Telemetry must start before pg loads, so the ledger's modules are imported afterwards.
const ended: EndedSpan[] = [];
const collector: Processor = {
  onStart: () => undefined,
  onEnd: (span) => void ended.push(span),
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};
const stopTelemetry = startTelemetry({ serviceName: "cost-ledger", spanProcessors: [collector] });
const kit = await import("./ledger.testkit.js");

describe("cost ledger tracing", () => {
  let ledger: Awaited<ReturnType<typeof kit.startTestLedger>>;
  const schema = kit.freshSchemaName("ledger_trace");

  beforeAll(async () => {
    ledger = await kit.startTestLedger({
      DATABASE_URL: kit.TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
    });
  });

  afterAll(async () => {
    await ledger.handle.pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await ledger.stop();
    await stopTelemetry();
  });

  it("parents the batch insert and its pg query under the caller's RecordUsage span", async () => {
    const tracer = trace.getTracer("test-caller");

    const traceId = await tracer.startActiveSpan("caller", async (span) => {
      await ledger.client.recordUsage({ record: kit.sampleRecord() });
      span.end();
      return span.spanContext().traceId;
    });
    const inTrace = ended.filter((s) => s.spanContext().traceId === traceId);
    const parentOf = (s: EndedSpan | undefined) => s?.parentSpanContext?.spanId;
    const rpc = (kind: SpanKind) =>
      inTrace.find((s) => s.name === "ledger.v1.CostLedgerService/RecordUsage" && s.kind === kind);

    const caller = inTrace.find((s) => s.name === "caller");
    const client = rpc(SpanKind.CLIENT);
    const server = rpc(SpanKind.SERVER);
    const batch = inTrace.find((s) => s.name === "ledger.insert_usage_batch");
    const query = inTrace.find((s) => {
      const sql = s.attributes["db.statement"] ?? s.attributes["db.query.text"] ?? "";
      return String(sql).includes("INSERT INTO usage_records");
    });

    expect(query).toBeDefined();
    expect(parentOf(client)).toBe(caller?.spanContext().spanId);
    expect(parentOf(server)).toBe(client?.spanContext().spanId);
    expect(batch?.attributes["ledger.batch.rows"]).toBe(1);
    expect(parentOf(batch)).toBe(server?.spanContext().spanId);
    expect(parentOf(query)).toBe(batch?.spanContext().spanId);
  });

  it("records each batched row in a span of the request that queued it", async () => {
    const requests = ["4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"];
    const parents = ["00f067aa0ba902b7", "b7ad6b7169203331"];
    const records = requests.map((traceId, i) =>
      kit.sampleRecord({
        requestId: `traced-${traceId}`,
        traceparent: `00-${traceId}-${parents[i]}-01`,
      }),
    );

    await ledger.client.recordUsageBatch({ records });

    for (const [i, traceId] of requests.entries()) {
      const spans = ended.filter((s) => s.spanContext().traceId === traceId);
      expect(spans.map((s) => [s.name, s.kind, s.parentSpanContext?.spanId])).toEqual([
        ["record usage", SpanKind.CONSUMER, parents[i]],
      ]);
      expect(spans[0]?.attributes["mesh.request_id"]).toBe(`traced-${traceId}`);
    }
  });

  it("gives a record sent late, outside its request's trace, a span in that trace", async () => {
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
    const record = kit.sampleRecord({ traceparent: `00-${traceId}-10f067aa0ba902b8-01` });

    await ledger.client.recordUsage({ record });

    const spans = ended.filter((s) => s.spanContext().traceId === traceId);
    expect(spans.map((s) => [s.name, s.kind, s.parentSpanContext?.spanId])).toEqual([
      ["record usage", SpanKind.CONSUMER, "10f067aa0ba902b8"],
    ]);
  });
});
