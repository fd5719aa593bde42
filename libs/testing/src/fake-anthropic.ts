import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Token counts a scripted reply reports, as the Messages API names them. */
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** A content block of a scripted reply. */
export type FakeContentBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown };

/** A successful answer, sent as JSON or as SSE depending on the request's `stream`. */
export interface FakeReply {
  kind: "reply";
  /** Shorthand for one text block; ignored when `content` is given. */
  text?: string;
  content?: FakeContentBlock[];
  stopReason?: string;
  stopSequence?: string | null;
  /** Defaults: input from the request's size, output from the reply's size. */
  usage?: Partial<FakeUsage>;
  /** Reported model id; defaults to the request's model. */
  model?: string;
  /** Streamed text is cut into deltas of this many characters (default 8). */
  deltaChars?: number;
  /** SSE bytes are written in pieces of this size, to split events anywhere (default: whole). */
  chunkBytes?: number;
  /** Streams only: stop after this many SSE events and close the connection. */
  cutAfterEvents?: number;
  /** Wait this long before answering (a slow first byte), on top of the server's latency. */
  delayMs?: number;
  /** Streams only: send this many events, then hold the connection open until the client
   *  leaves, as a model still thinking would (for caller hang-up tests). */
  stallAfterEvents?: number;
  /** Streams only: after this many events, send an `error` event of this type and end. */
  errorAfterEvents?: { events: number; type: string; message?: string };
}

/** An HTTP error with the Messages API's error JSON. */
export interface FakeError {
  kind: "error";
  status: number;
  /** Anthropic error type, e.g. overloaded_error; derived from the status when left out. */
  type?: string;
  message?: string;
  /** `retry-after` header value (seconds or an HTTP date). */
  retryAfter?: string | number;
  headers?: Record<string, string>;
}

/** Destroys the socket without answering, as a dropped connection does. */
export interface FakeReset {
  kind: "reset";
}

/** One scripted response; each request takes the next one, then replies by default. */
export type FakeStep = FakeReply | FakeError | FakeReset;

/** A request the fake received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  receivedAt: number;
  /** When the client closed the connection before the answer was complete. */
  leftAt?: number;
}

export interface FakeAnthropicOptions {
  /** Wait before each answer, in milliseconds (default 0). */
  latencyMs?: number;
  /**
   * Benchmark mode: no request recording and one canned answer built once, so the fake
   * adds as little as possible to what is measured. Scripted steps still apply.
   */
  zeroLatency?: boolean;
  /** When set, requests must carry this key as x-api-key or a Bearer token, else 401. */
  apiKey?: string;
  /** Answer for requests with no scripted step left (default: a short fixed text). */
  defaultReply?: Omit<FakeReply, "kind">;
}

/** A running fake of the Anthropic Messages API. */
export interface FakeAnthropic {
  /** Base URL without /v1, as the SDK's baseURL wants it. */
  readonly url: string;
  /** Every request received, in order (empty in zeroLatency mode). */
  readonly requests: RecordedRequest[];
  /** Queues responses for the next requests, in order. */
  script(...steps: FakeStep[]): void;
  /** Scripted steps not yet used. */
  pending(): number;
  close(): Promise<void>;
}

const DEFAULT_TEXT = "Hello from the fake Anthropic server.";

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

/**
 * Starts a node:http server on 127.0.0.1, port 0, that speaks the Anthropic Messages wire
 * format: POST /v1/messages answered as JSON, or as SSE (message_start, content_block_start,
 * ping, content_block_delta, content_block_stop, message_delta, message_stop) when the body
 * has `stream: true`. Faults are scripted per request with `script(...)`.
 */
export async function startFakeAnthropic(
  options: FakeAnthropicOptions = {},
): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const queue: FakeStep[] = [];
  const sockets = new Set<Socket>();
  const defaultReply: FakeReply = { kind: "reply", text: DEFAULT_TEXT, ...options.defaultReply };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, "api_error", String(err));
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method !== "POST" || path !== "/v1/messages") {
      return sendError(res, 404, "not_found_error", `no route for ${req.method} ${path}`);
    }

    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendError(res, 400, "invalid_request_error", "request body is not valid JSON");
    }

    if (!options.zeroLatency) {
      const recorded: RecordedRequest = {
        method: req.method,
        path,
        headers: flattenHeaders(req),
        body,
        receivedAt: Date.now(),
      };
      requests.push(recorded);
      res.once("close", () => {
        if (!res.writableFinished) recorded.leftAt = Date.now();
      });
    }

    if (options.apiKey !== undefined && !hasKey(req, options.apiKey)) {
      return sendError(res, 401, "authentication_error", "invalid x-api-key");
    }

    const step = queue.shift() ?? defaultReply;
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));

    if (step.kind === "reset") {
      req.socket.destroy();
      return;
    }
    if (step.kind === "error") {
      const headers: Record<string, string> = { ...step.headers };
      if (step.retryAfter !== undefined) headers["retry-after"] = String(step.retryAfter);
      const type = step.type ?? ERROR_TYPES[step.status] ?? "api_error";
      return sendError(res, step.status, type, step.message ?? type.replace(/_/g, " "), headers);
    }

    if (options.zeroLatency && step === defaultReply) return sendCanned(res, body);
    if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));

    const message = buildMessage(step, body);
    if (body.stream === true) return streamMessage(res, message, step);

    const text = JSON.stringify(message);
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "request-id": `req_${message.id}`,
    });
    res.end(text);
  }

  // Benchmark answers are built once per (model, stream) and replayed byte for byte.
  const canned = new Map<string, { buffer: Buffer; contentType: string }>();
  function sendCanned(res: ServerResponse, body: Record<string, unknown>): void {
    const key = `${String(body.model)}|${body.stream === true}`;
    let entry = canned.get(key);
    if (!entry) {
      const message = buildMessage(defaultReply, body);
      entry = body.stream === true
        ? { buffer: ssePayload(sseEvents(message, 8)), contentType: "text/event-stream" }
        : { buffer: Buffer.from(JSON.stringify(message)), contentType: "application/json" };
      canned.set(key, entry);
    }

    res.writeHead(200, {
      "content-type": entry.contentType,
      "content-length": entry.buffer.length,
    });
    res.end(entry.buffer);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...steps) => {
      queue.push(...steps);
    },
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface BuiltMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: FakeContentBlock[];
  stop_reason: string;
  stop_sequence: string | null;
  usage: Required<FakeUsage>;
}

function buildMessage(step: FakeReply, body: Record<string, unknown>): BuiltMessage {
  const content = step.content ?? [{ type: "text", text: step.text ?? DEFAULT_TEXT }];
  const hasToolUse = content.some((b) => b.type === "tool_use");
  const outputChars = content.reduce(
    (n, b) => n + (b.type === "text" ? b.text.length : JSON.stringify(b.input).length),
    0,
  );

  return {
    id: `msg_${randomUUID().replace(/-/g, "").slice(0, 24)}`,
    type: "message",
    role: "assistant",
    model: step.model ?? String(body.model ?? "claude-fake"),
    content,
    stop_reason: step.stopReason ?? (hasToolUse ? "tool_use" : "end_turn"),
    stop_sequence: step.stopSequence ?? null,
    usage: {
      input_tokens: step.usage?.input_tokens ??
        Math.ceil(JSON.stringify(body.messages ?? []).length / 4),
      output_tokens: step.usage?.output_tokens ?? Math.max(1, Math.ceil(outputChars / 4)),
      cache_creation_input_tokens: step.usage?.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: step.usage?.cache_read_input_tokens ?? 0,
    },
  };
}

/** The SSE events of one message, in the order the Messages API sends them. */
function sseEvents(message: BuiltMessage, deltaChars: number): Array<[string, unknown]> {
  const events: Array<[string, unknown]> = [];
  const { usage } = message;
  events.push([
    "message_start",
    {
      type: "message_start",
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    },
  ]);

  message.content.forEach((block, index) => {
    if (block.type === "text") {
      events.push([
        "content_block_start",
        { type: "content_block_start", index, content_block: { type: "text", text: "" } },
      ]);
      if (index === 0) events.push(["ping", { type: "ping" }]);
      for (const piece of pieces(block.text, deltaChars)) {
        events.push([
          "content_block_delta",
          { type: "content_block_delta", index, delta: { type: "text_delta", text: piece } },
        ]);
      }
    } else {
      events.push([
        "content_block_start",
        {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
        },
      ]);
      if (index === 0) events.push(["ping", { type: "ping" }]);
      for (const piece of pieces(JSON.stringify(block.input), deltaChars)) {
        events.push([
          "content_block_delta",
          {
            type: "content_block_delta",
            index,
            delta: { type: "input_json_delta", partial_json: piece },
          },
        ]);
      }
    }
    events.push(["content_block_stop", { type: "content_block_stop", index }]);
  });

  events.push([
    "message_delta",
    {
      type: "message_delta",
      delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence },
      usage: { output_tokens: usage.output_tokens },
    },
  ]);
  events.push(["message_stop", { type: "message_stop" }]);
  return events;
}

async function streamMessage(res: ServerResponse, message: BuiltMessage, step: FakeReply) {
  let events = sseEvents(message, step.deltaChars ?? 8);
  let cut = false;
  const stall = step.stallAfterEvents !== undefined;
  if (step.stallAfterEvents !== undefined) {
    events = events.slice(0, step.stallAfterEvents);
  } else if (step.errorAfterEvents) {
    const { events: count, type, message: text } = step.errorAfterEvents;
    events = events.slice(0, count);
    events.push(["error", { type: "error", error: { type, message: text ?? type } }]);
  } else if (step.cutAfterEvents !== undefined) {
    events = events.slice(0, step.cutAfterEvents);
    cut = true;
  }

  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "request-id": `req_${message.id}`,
  });
  const payload = ssePayload(events);

  const size = step.chunkBytes ?? payload.length;
  for (let offset = 0; offset < payload.length; offset += size) {
    res.write(payload.subarray(offset, offset + size));
    // A macrotask between pieces makes each one its own network read on the client side.
    if (size < payload.length) await new Promise((r) => setImmediate(r));
  }

  if (stall) {
    await new Promise<void>((resolve) => res.once("close", () => resolve()));
  } else if (cut) {
    // Let the events already written reach the client before the connection drops.
    await new Promise<void>((resolve) => res.write("", () => resolve()));
    await new Promise((r) => setTimeout(r, 20));
    res.socket?.destroy();
  } else {
    res.end();
  }
}

function ssePayload(events: Array<[string, unknown]>): Buffer {
  return Buffer.from(
    events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join(""),
  );
}

function pieces(text: string, size: number): string[] {
  const chars = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out.length > 0 ? out : [""];
}

function sendError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify({ type: "error", error: { type, message } });
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function hasKey(req: IncomingMessage, key: string): boolean {
  const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, "");
  return req.headers["x-api-key"] === key || bearer === key;
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
