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
});
