import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** An attribute value as OTLP/JSON carries it, arrays included. */
export type AttributeValue = string | number | boolean | AttributeValue[];

/** One span as received over OTLP/HTTP JSON, with its resource's attributes. */
export interface ReceivedSpan {
  resource: Record<string, AttributeValue>;
  service: string;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  startNs: bigint;
  endNs: bigint;
  events: { name: string; timeNs: bigint; attributes: Record<string, AttributeValue> }[];
  /** Spans of other traces this one points at (a batch at the requests it carries). */
  links: { traceId: string; spanId: string }[];
}

/** A local OTLP/HTTP JSON trace receiver that keeps every span it is sent. */
export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Waits until the predicate holds over the received spans, or throws after the timeout. */
  waitFor(what: string, predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
};
type OtlpAttribute = { key: string; value: OtlpValue };

/** Starts the receiver on 127.0.0.1, port 0; point OTEL_EXPORTER_OTLP_ENDPOINT at `url`. */
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

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    async waitFor(what, predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) throw new Error(`spans: ${what} did not arrive in time`);
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

interface OtlpBody {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { scope?: { name?: string }; spans?: Record<string, unknown>[] }[];
  }[];
}

function flatten(body: OtlpBody): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const events = (s.events as
          | { name: string; timeUnixNano?: string; attributes?: OtlpAttribute[] }[]
          | undefined) ?? [];
        out.push({
          resource,
          service: String(resource["service.name"] ?? ""),
          scope: ss.scope?.name ?? "",
          traceId: String(s.traceId ?? ""),
          spanId: String(s.spanId ?? ""),
          parentSpanId: String(s.parentSpanId ?? ""),
          name: String(s.name ?? ""),
          kind: Number(s.kind ?? 0),
          attributes: attributes(s.attributes as OtlpAttribute[] | undefined),
          statusCode: Number((s.status as { code?: number } | undefined)?.code ?? 0),
          startNs: BigInt(String(s.startTimeUnixNano ?? "0")),
          endNs: BigInt(String(s.endTimeUnixNano ?? "0")),
          events: events.map((e) => ({
            name: e.name,
            timeNs: BigInt(e.timeUnixNano ?? "0"),
            attributes: attributes(e.attributes),
          })),
          links: ((s.links as { traceId?: string; spanId?: string }[] | undefined) ?? []).map(
            (l) => ({ traceId: String(l.traceId ?? ""), spanId: String(l.spanId ?? "") }),
          ),
        });
      }
    }
  }
  return out;
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    const v = valueOf(value);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function valueOf(value: OtlpValue): AttributeValue | undefined {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue !== undefined) {
    return (value.arrayValue.values ?? []).map(valueOf).filter((v) => v !== undefined);
  }
  return undefined;
}
