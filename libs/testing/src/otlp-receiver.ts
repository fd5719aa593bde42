import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One span as received over OTLP/HTTP JSON, flattened for assertions. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  statusCode: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  events: { name: string; attributes: Record<string, string | number | boolean> }[];
}

/** A local OTLP/HTTP trace receiver for tests: POST /v1/traces with JSON bodies. */
export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Waits until the predicate holds over the received spans, or throws after the timeout. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};
type OtlpAttr = { key: string; value: OtlpValue };

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        try {
          spans.push(...flatten(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
        } catch {
          res.writeHead(400).end();
          return;
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) throw new Error("spans did not arrive in time");
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function flatten(body: {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttr[] };
    scopeSpans?: { spans?: Record<string, unknown>[] }[];
  }[];
}): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service: String(resource["service.name"] ?? ""),
          traceId: String(s.traceId ?? ""),
          spanId: String(s.spanId ?? ""),
          parentSpanId: String(s.parentSpanId ?? ""),
          name: String(s.name ?? ""),
          kind: Number(s.kind ?? 0),
          attributes: attributes(s.attributes as OtlpAttr[] | undefined),
          statusCode: Number((s.status as { code?: number } | undefined)?.code ?? 0),
          startTimeUnixNano: BigInt(String(s.startTimeUnixNano ?? "0")),
          endTimeUnixNano: BigInt(String(s.endTimeUnixNano ?? "0")),
          events: ((s.events as { name: string; attributes?: OtlpAttr[] }[] | undefined) ?? []).map(
            (e) => ({ name: e.name, attributes: attributes(e.attributes) }),
          ),
        });
      }
    }
  }
  return out;
}

function attributes(list: OtlpAttr[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
  }
  return out;
}
